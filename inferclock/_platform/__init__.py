"""The machine: the calibrated clock, CPU topology and the process CPU mask, pinning,
the machine fingerprint and its noise checks, host identity, OpenVINO devices and external
plugins, and what ``inferclock info`` collects.

May import: _common.
"""
