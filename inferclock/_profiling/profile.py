"""``ic.profile`` and ``ic.profile_diff``: where inference time goes, layer by layer.

A profile is a run with OpenVINO's performance counters on, separate from timed runs
(counters cost time: a profile's end-to-end time is never a model's latency). It takes the
run options of ``ic.run`` from their one declaration (``_timing.options.RunOptions``) and its
own (``iterations`` again, ``rounds``, ``save_graph``) from ``_profiling.options``, prepares the
model as ``ic.run`` does (int8 quantization, shape and device checks) and runs here, or in a
fresh pinned worker process exactly like an isolated ``ic.run`` (pinning, timeout, Ctrl-C,
errors crossing as themselves). ``_profiling.run`` collects the counters, ``_profiling.record``
holds the result, ``_profiling.diff`` compares two.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from inferclock._common.errors import ConfigError
from inferclock._profiling.diff import DiffRow, ProfileDiff, profile_diff
from inferclock._profiling.options import RUN_OPTIONS, ProfileOptions
from inferclock._profiling.record import Layer, Median, Profile, Total
from inferclock._profiling.run import ProfileSpec, make_plan
from inferclock._timing.modelinfo import ModelBook
from inferclock._timing.options import RunOptions, make
from inferclock._workers.run import _prepare


def profile(
    model: Any,
    device: str = "CPU",
    batch_size: int = 1,
    precision: str = "f32",
    warmup: str | int | float = "auto",
    iterations: int = 100,
    socket: int | None = None,
    cpus: Iterable[int] | str | None = None,
    streams: int | None = None,
    threads: int | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    inputs: Any = None,
    seed: int = 0,
    *,
    rounds: int | None = None,
    save_graph: str | os.PathLike[str] | None = None,
    max_time: float | None = None,
    hint: str = "auto",
    strict: bool = True,
    properties: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    input_sets: int = 4,
    calibration: Iterable[Any] | None = None,
    isolate: bool | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Profile:
    """Per-layer performance counters of ``model`` beside its end-to-end time.

    The options are ``ic.run``'s (same checks, same meaning; a profile runs latency mode: one
    request, one stream). After ``warmup`` (as in ``ic.run``), ``iterations`` inferences run
    in ``rounds`` rounds (default: 10, or ``iterations`` when fewer), each on a freshly
    compiled copy: OpenVINO's CPU plugin reports a
    layer's running mean since compile, so each round gives every layer's mean over its
    iterations, and a layer's time is the median over rounds with its distribution-free 95%
    interval (at least 6 rounds for a full 95%). Each iteration is also timed end to end with
    the calibrated clock. The result holds per layer its type, kernel (exec_type), executed
    precision, status and time; totals by layer type and by kernel; the layers' sum beside
    the end-to-end time of the same iterations, and the difference (time in no layer).

    save_graph: also write the executed graph (the runtime model, with its rt_info) as
        OpenVINO IR to this .xml path.
    max_time: bounds the warm-up, as in ``ic.run``.
    Pinned (``socket``/``cpus``), ``env`` or ``isolate=True``: runs in a fresh worker process.
    Raises ConfigError for bad arguments (``iterations=0``), ModelError for a model that
    cannot be read, DeviceError for one that does not compile, PrecisionError when the
    device runs another precision than asked (``strict``).
    """
    given = {k: v for k, v in locals().items() if k in RUN_OPTIONS}
    own: ProfileOptions = make(
        ProfileOptions, dict(iterations=iterations, rounds=rounds, save_graph=save_graph), "profile"
    )
    plan = make_plan(own)
    opts = make(RunOptions, {**given, "iterations": own.iterations}, "profile")
    if opts.device != "CPU":
        raise ConfigError(
            f"profile: device {opts.device!r} is not supported: per-layer counters are read as "
            "OpenVINO's CPU plugin keeps them (running means since compile); use device='CPU'"
        )
    with ModelBook() as book:
        spec = ProfileSpec.of(_prepare(model, opts, book), plan)
        if opts.isolated:
            from inferclock._workers.supervisor import isolated

            result: Profile = isolated(spec)
            return result
        return spec.execute()


def load(path: str | os.PathLike[str]) -> Profile:
    """A profile saved with ``Profile.save`` (or ``inferclock profile --json``)."""
    return Profile.load(path)


__all__ = [
    "RUN_OPTIONS",
    "DiffRow",
    "Layer",
    "Median",
    "Profile",
    "ProfileDiff",
    "Total",
    "load",
    "profile",
    "profile_diff",
]
