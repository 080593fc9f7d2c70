"""The foundation every other part stands on: inferclock's error classes, type tests of
user values, the checks and parsers that option declarations are built from, the interval
arithmetic, the results-file format (JSON Lines), and plain-text formatting of numbers and
markdown tables. Nothing here knows about runs, machines or OpenVINO beyond the C++ core's
error classes.

May import: nothing (only the C++ core, ``inferclock._core``).
"""
