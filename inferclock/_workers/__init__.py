"""Where a run executes: ``ic.run`` and ``ic.prepare`` (here or in fresh worker
processes), the one process supervisor (start, timeout, crash, Ctrl-C) and the worker process
itself. A worker runs any job with an ``execute`` method (a RunSpec, a profile's, or
``ic.measure``'s ``MeasureSpec`` for a callable importable by name).
``ic.ab`` (``ab``, ``ab_side``, ``ab_result``) runs two sides in alternating fresh processes.

May import: _common, stats, models, _platform, _timing, _analysis.
"""
