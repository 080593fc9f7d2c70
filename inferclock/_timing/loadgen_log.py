"""MLPerf LoadGen's side of a run: the scenarios and backends ``ic.run`` takes, and what
LoadGen's ``mlperf_log_summary.txt`` says, parsed into the row's ``loadgen`` field.

Pure text and arithmetic: no LoadGen import here (``_workers.loadgen_backend`` runs it).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from inferclock._common.errors import ConfigError, ConfigTypeError

#: ``backend=``: inferclock's own loops, or MLPerf LoadGen driving inferclock's engine.
BACKENDS = ("inferclock", "loadgen")
#: LoadGen's scenarios, and the inferclock mode whose engine set-up (hint, requests) each uses.
SCENARIO_MODES = {
    "server": "server",
    "offline": "throughput",
    "singlestream": "latency",
    "multistream": "multistream",
}
SCENARIOS = tuple(SCENARIO_MODES)
#: ``loadgen_mode=``: LoadGen's TestMode (find_peak: FindPeakPerformance, server only).
LOADGEN_MODES = ("performance", "find_peak")
#: The summary's name for each scenario.
_SCENARIO_NAMES = {
    "Server": "server", "Offline": "offline", "SingleStream": "singlestream",
    "MultiStream": "multistream",
}  # fmt: skip
#: Summary lines whose value is yes/no, by the row key they fill.
_CONSTRAINTS = {
    "Performance constraints satisfied": "performance_constraints",
    "Min duration satisfied": "min_duration",
    "Min queries satisfied": "min_queries",
    "Early stopping satisfied": "early_stopping",
    "TTFT constrain satisfied": "ttft",
    "TPOT constrain satisfied": "tpot",
}  # fmt: skip
_NUMBERS = {
    "Completed samples per second": "completed_sps",
    "Samples per second": "samples_per_second",
    "Scheduled samples per second": "scheduled_sps",
    "QPS w/ loadgen overhead": "qps_with_overhead",
    "QPS w/o loadgen overhead": "qps_without_overhead",
    "Min latency (ns)": "min_ns",
    "Max latency (ns)": "max_ns",
    "Mean latency (ns)": "mean_ns",
    "target_qps": "target_qps",
    "target_latency (ns)": "target_latency_ns",
    "min_duration (ms)": "min_duration_ms",
    "min_query_count": "min_query_count",
    "samples_per_query": "samples_per_query",
    "max_async_queries": "max_async_queries",
    "performance_sample_count": "performance_sample_count",
    "qsl_rng_seed": "qsl_rng_seed",
    "sample_index_rng_seed": "sample_index_rng_seed",
    "schedule_rng_seed": "schedule_rng_seed",
}  # fmt: skip
_PERCENTILE = re.compile(r"^(\d+(?:\.\d+)?) percentile latency \(ns\)$")
_TARGET = re.compile(r"^(\d+(?:\.\d+)?)th percentile latency \(ns\)$")
_ESTIMATE = re.compile(r"Early stopping (\d+(?:\.\d+)?)th percentile estimate\s*:\s*(\d+)")


def check_backend(value: Any) -> str:
    """``backend=``: one of BACKENDS."""
    if not isinstance(value, str):
        raise ConfigTypeError(f"backend must be one of {', '.join(BACKENDS)}, not {value!r}")
    if value not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {value!r}")
    return value


def check_scenario(value: Any) -> str:
    """``scenario=``: one of SCENARIOS (case-insensitive)."""
    if not isinstance(value, str):
        raise ConfigTypeError(f"scenario must be one of {', '.join(SCENARIOS)}, not {value!r}")
    if value.lower() not in SCENARIOS:
        raise ConfigError(f"scenario must be one of {', '.join(SCENARIOS)}, not {value!r}")
    return value.lower()


def check_loadgen_mode(value: Any, scenario: str) -> str:
    """``loadgen_mode=``: one of LOADGEN_MODES; find_peak only with the server scenario."""
    if not isinstance(value, str) or value not in LOADGEN_MODES:
        raise ConfigError(f"loadgen_mode must be one of {', '.join(LOADGEN_MODES)}, not {value!r}")
    if value == "find_peak" and scenario != "server":
        raise ConfigError(
            f"loadgen_mode 'find_peak' needs scenario 'server' (LoadGen's FindPeakPerformance "
            f"supports only Server), not {scenario!r}"
        )
    return value


def _value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("yes", "no"):
        return t.lower() == "yes"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_summary(text: str) -> dict[str, Any]:
    """The figures of a ``mlperf_log_summary.txt``: ``scenario``, ``mode``, ``result``
    (VALID/INVALID), ``sut_name``, ``constraints`` {name: bool}, ``percentiles_ns`` {"p99": ns},
    ``target_percentile`` / ``target_latency_ns_measured`` (SingleStream/MultiStream's
    official figure), ``early_stopping_estimates_ns`` {"p90": ns}, and the numbers of
    ``_NUMBERS``. A text without a result line is a ConfigError (not a LoadGen summary)."""
    out: dict[str, Any] = {
        "constraints": {},
        "percentiles_ns": {},
        "early_stopping_estimates_ns": {},
    }
    for line in text.splitlines():
        m = _ESTIMATE.search(line)
        if m:
            out["early_stopping_estimates_ns"][f"p{_pname(m[1])}"] = int(m[2])
            continue
        if ":" not in line:
            continue
        key, _, raw = line.partition(":")
        key = key.strip()
        if key == "SUT name":
            out["sut_name"] = raw.strip()
        elif key == "Scenario":
            out["scenario"] = _SCENARIO_NAMES.get(raw.strip(), raw.strip())
        elif key == "Mode":
            out["mode"] = raw.strip()
        elif key == "Result is":
            out["result"] = raw.strip()
        elif key in _CONSTRAINTS:
            out["constraints"][_CONSTRAINTS[key]] = _value(raw)
        elif key in _NUMBERS:
            out[_NUMBERS[key]] = _value(raw)
        elif m := _PERCENTILE.match(key):
            out["percentiles_ns"][f"p{_pname(m[1])}"] = _value(raw)
        elif m := _TARGET.match(key):
            out["target_percentile"] = float(m[1])
            out["target_latency_ns_measured"] = _value(raw)
    if out.get("result") not in ("VALID", "INVALID"):
        raise ConfigError("not a LoadGen summary: no 'Result is : VALID/INVALID' line")
    return out


def read_summary(log_dir: str | Path) -> dict[str, Any]:
    """``parse_summary`` of ``log_dir/mlperf_log_summary.txt`` (ConfigError when missing)."""
    path = Path(log_dir) / "mlperf_log_summary.txt"
    if not path.is_file():
        raise ConfigError(f"LoadGen wrote no summary: {path} is missing")
    return parse_summary(path.read_text(errors="replace"))


def _pname(p: str) -> str:
    """'99.00' -> '99', '99.90' -> '99.9', '90.0' -> '90'."""
    return f"{float(p):g}"


def summary_lines(lg: dict[str, Any], own: Any) -> list[str]:
    """The printed lines of a LoadGen-backend run: LoadGen's figures and inferclock's own
    (``own``: the run's ``Stats``, issue to completion) side by side."""

    def ms(ns: Any) -> str:
        return "-" if not isinstance(ns, (int, float)) else f"{ns / 1e6:.3f}"

    pct = lg.get("percentiles_ns", {})
    cons = lg.get("constraints", {})
    rate = lg.get("completed_sps", lg.get("samples_per_second", lg.get("qps_with_overhead")))
    est = ", ".join(f"{k} {ms(v)}" for k, v in lg.get("early_stopping_estimates_ns", {}).items())
    lines = [
        f"  loadgen   {lg.get('scenario')} {lg.get('mode')}: {lg.get('result')}"
        + (f", scheduled {lg['scheduled_sps']:g} samples/s" if "scheduled_sps" in lg else "")
        + (f", {rate:g} samples/s" if isinstance(rate, (int, float)) else "")
        + ", constraints "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in cons.items()),
        "  latency (ms)        p50      p90      p99   (LoadGen: scheduled to complete; "
        "inferclock: issued to complete)",
        f"    LoadGen    {ms(pct.get('p50')):>8} {ms(pct.get('p90')):>8} {ms(pct.get('p99')):>8}"
        + (f"   early-stopping estimates {est}" if est else ""),
        f"    inferclock {ms(own.median_ns):>8} {ms(own.p90_ns):>8} {ms(own.p99_ns):>8}",
        f"  logs      {lg.get('log_dir')} (completions: {lg.get('completion')}, "
        f"{lg.get('complete_us_per_sample', math.nan):.1f} us each)",
    ]
    return lines


#: ``ic.run``'s keyword parameters for the LoadGen backend, after the declared run options.
LOADGEN_PARAMS = ("backend", "scenario", "loadgen_mode", "loadgen_logs")


_PEAK = re.compile(r"FindPeakPerformance: Found peak performance field: ([\d.]+)")
_PEAK_FAILED = re.compile(r"FindPeakPerformance: Initial lower bound does not satisfy[^\"]*")


def read_peak(log_dir: str | Path) -> dict[str, Any]:
    """What LoadGen's FindPeakPerformance found, from ``mlperf_log_detail.txt``:
    ``peak_qps`` (None when it found none) and ``peak_note`` (why not, LoadGen's words)."""
    path = Path(log_dir) / "mlperf_log_detail.txt"
    text = path.read_text(errors="replace") if path.is_file() else ""
    found = _PEAK.findall(text)
    failed = _PEAK_FAILED.search(text)
    return {
        "peak_qps": float(found[-1]) if found else None,
        "peak_note": failed[0] if failed else (None if found else "no peak in the detail log"),
    }
