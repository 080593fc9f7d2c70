"""Rows become answers: a cell's runs combined into one estimate with its interval
(``cell``), cell summaries, :class:`ResultTable` (``table``), compare and its CI gate, the
open-loop rate curves and tuning surfaces as data, and the markdown tables of all of these.
No process is started and nothing is drawn here.

May import: _common, stats, _platform, _timing.
"""
