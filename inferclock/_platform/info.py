"""What ``inferclock info`` shows: topology, clock calibration, OpenVINO devices, noise checks."""

from __future__ import annotations

from typing import Any

from inferclock import _core
from inferclock._platform.environment import environment, noise_checks
from inferclock._platform.topology import topology

__all__ = ["collect_clock", "collect_info", "collect_openvino", "format_info"]


def collect_clock() -> dict[str, Any]:
    """The process clock's calibration (made on first use, about 0.1 s)."""
    c = _core.calibration()
    return {
        "source": c.source,
        "source_reason": c.source_reason,
        "kernel_clocksource": c.kernel_clocksource,
        "frequency_hz": c.frequency_hz,
        "frequency_error_ppm": c.frequency_error_ppm,
        "invariant": c.invariant,
        "overhead_ns": c.overhead_ns,
        "resolution_ns": c.resolution_ns,
        "calibration_ms": c.calibration_ms,
    }


def collect_openvino() -> dict[str, Any]:
    """OpenVINO's version and, per device, FULL_DEVICE_NAME and OPTIMIZATION_CAPABILITIES.

    This loads OpenVINO's device plugins into the process (the CPU plugin then holds its CPU
    map: see ``inferclock.pin``).
    """
    import openvino as ov

    core = ov.Core()
    devices: list[dict[str, Any]] = []
    for name in core.available_devices:
        dev: dict[str, Any] = {"name": name}
        for prop in ("FULL_DEVICE_NAME", "OPTIMIZATION_CAPABILITIES"):
            try:
                value = core.get_property(name, prop)
            except Exception as e:  # a plugin that cannot answer still gets listed
                dev[prop.lower()] = None
                dev.setdefault("errors", []).append(f"{prop}: {e}")
                continue
            dev[prop.lower()] = list(value) if isinstance(value, (list, tuple)) else str(value)
        devices.append(dev)
    return {"version": ov.get_version(), "devices": devices}


def collect_info(root: str = "/") -> dict[str, Any]:
    """Everything ``inferclock info`` prints, as a JSON-ready dict."""
    topo = topology(root)
    env = environment(root, topo)
    return {
        "topology": {"map": str(topo), **topo.to_dict()},
        "clock": collect_clock(),
        "openvino": collect_openvino(),
        "environment": env,
        "noise_checks": [c.to_dict() for c in noise_checks(root, env)],
    }


def format_info(info: dict[str, Any]) -> str:
    """A human-readable rendering of :func:`collect_info`'s dict."""
    env = info["environment"]
    clk = info["clock"]
    ov = info["openvino"]
    flags = " ".join(f for f, on in env["cpu_flags"].items() if on) or "none of interest"
    out = [
        "Machine",
        f"  CPU         {env['cpu_model'] or 'unknown'} ({env['arch']})",
        f"  flags       {flags}",
        f"  kernel      {env['kernel']}   Python {env['python']}   "
        f"OpenVINO {env['openvino']}   inferclock {env['inferclock']}",
        "",
        "Topology",
        *("  " + line for line in info["topology"]["map"].splitlines()),
        "",
        "Clock",
        f"  source      {clk['source']} ({clk['source_reason']})",
        f"  frequency   {clk['frequency_hz'] / 1e9:.6f} GHz "
        f"(+/- {clk['frequency_error_ppm']:.1f} ppm), invariant: {clk['invariant']}",
        f"  read cost   {clk['overhead_ns']:.1f} ns per start/stop pair, "
        f"resolution {clk['resolution_ns']:.1f} ns",
        f"  kernel clocksource {clk['kernel_clocksource'] or 'unknown'}",
        "",
        f"OpenVINO {ov['version']}",
    ]
    for d in ov["devices"]:
        caps = d.get("optimization_capabilities")
        out.append(f"  {d['name']:<8}{d.get('full_device_name') or '?'}")
        out.append(f"  {'':<8}capabilities: {' '.join(caps) if caps else '?'}")
        out.extend(f"  {'':<8}error: {e}" for e in d.get("errors", []))
    out += ["", "Noise checks"]
    for c in info["noise_checks"]:
        mark = "ok  " if c["ok"] else "WARN"
        out.append(f"  {mark} {c['name']:<22} {c['value']}")
        if c["advice"]:
            out.append(f"       -> {c['advice']}")
    return "\n".join(out)
