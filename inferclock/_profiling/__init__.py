"""Where inference time goes: a profiled run (per-layer counters read in rounds),
the profile record and its JSON form, the diff of two profiles, their text, and
``ic.profile`` / ``ic.profile_diff``.

May import: _common, stats, models, _platform, _timing, _analysis, _workers.
"""
