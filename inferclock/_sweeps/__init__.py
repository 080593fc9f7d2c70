"""``ic.sweep``: the grid and its units, the sweep's own options, its results file
(lock, resume, raw latencies), the runner that writes rows as units finish, progress, and the
Dask cluster path (client side and what runs on a host).

May import: _common, stats, models, _platform, _timing, _analysis, _workers, _tracking.
"""
