"""Results across runs: the history (SQLite or PostgreSQL storage, change
detection, ``ic.history``), the pytest plugin's baselines and verdicts, its session and
fixture, and ``inferclock bisect`` (``git bisect`` driven by the interval verdict).

May import: _common, stats, models, _platform, _timing, _analysis, _workers.
"""
