"""Searches over many runs: ``ic.find_peak_qps`` (LoadGen's peak search) and
``ic.tune`` (streams x requests x threads x batch against OpenVINO's THROUGHPUT hint), their
spaces, records and summaries.

May import: _common, stats, models, _platform, _timing, _analysis, _workers, _tracking, _sweeps.
"""
