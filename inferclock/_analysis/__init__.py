"""Rows become answers: a cell's runs combined into one estimate with its interval
(``cell``), cell summaries, :class:`ResultTable` (``table``), compare, the named states of
its cells and its CI gate (``states``, ``gate``), speed modes and instability
(``stability``), the open-loop rate curves and tuning surfaces as data, and the markdown
tables of all of these. No process is started and nothing is drawn here.

May import: _common, stats, _platform, _timing.
"""
