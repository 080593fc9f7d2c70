"""OpenVINO devices and external plugins: what is present, and plugins registered by the user.

Registrations hold for later runs in this process and are replayed in worker processes (a
worker is a fresh interpreter: its ov::Core starts without them).
"""

from __future__ import annotations

import os
import threading

from inferclock import _core

_lock = threading.Lock()
_plugins: list[tuple[str, str]] = []  # (device name, library path)
_plugins_xml: list[str] = []


def register_plugin(library_path: str | os.PathLike[str], device_name: str) -> None:
    """Register an external OpenVINO plugin (e.g. an FPGA runtime) under ``device_name``.

    OpenVINO requires the device name to contain the plugin's own name.
    """
    path = os.fspath(library_path)
    _core.register_plugin(path, device_name)
    with _lock:
        _plugins.append((device_name, os.path.abspath(path)))


def register_plugins_xml(xml_path: str | os.PathLike[str]) -> None:
    """Register the plugins an OpenVINO plugins XML file lists."""
    path = os.path.abspath(os.fspath(xml_path))
    _core.register_plugins_xml(path)
    with _lock:
        _plugins_xml.append(path)


def registered() -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The registrations made in this process, to replay in a worker."""
    with _lock:
        return tuple(_plugins), tuple(_plugins_xml)


def replay(plugins: tuple[tuple[str, str], ...], plugins_xml: tuple[str, ...]) -> None:
    """Register in this process what another process registered (idempotent)."""
    for name, lib in plugins:
        _core.register_plugin(lib, name)
    for xml in plugins_xml:
        _core.register_plugins_xml(xml)


def devices() -> list[str]:
    """Devices OpenVINO lists here (AUTO, HETERO and MULTI combine them)."""
    return list(_core.available_devices())


def check_devices(devices: list[str]) -> None:
    """DeviceError naming what is missing and what is there, once per distinct device."""
    for d in dict.fromkeys(devices):
        _core.check_device(d)
