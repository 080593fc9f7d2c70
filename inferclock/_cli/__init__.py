"""The ``inferclock`` command: one module per subcommand, each with ``add_parser`` (its
flags, built from the option declarations) and ``run`` (its work, returning the exit code);
``inferclock.__main__`` only assembles them.

May import: _common, stats, models, _platform, _timing, _analysis, _workers, _profiling, _tracking,
_sweeps, _search, _render.
"""
