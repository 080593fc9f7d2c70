"""Results across runs: the history (SQLite or PostgreSQL storage, change
detection, ``ic.history``) and the pytest plugin's baselines and verdicts, its session and
fixture.

May import: _common, stats, models, _platform, _timing, _analysis, _workers.
"""
