"""What people look at: the report's figures (matplotlib on the Agg canvas) and
``ic.report``, ``report.html``, and the published dashboard (``ic.publish``: site, pages,
a headless-browser screenshot).

May import: _common, stats, models, _platform, _timing, _analysis, _workers, _profiling, _tracking,
_sweeps, _search.
"""
