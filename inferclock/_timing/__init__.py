"""One measurement in this process: the run options (their one declaration), the run
spec and the C++ engine that times it, warm-up and stopping, ``ic.measure`` and its phases,
the open-loop (server, multistream) driver and LoadGen's arithmetic, the RunResult record and
the row schema it is written with, model facts, precision and int8 quantization.

May import: _common, stats, models, _platform.
"""
