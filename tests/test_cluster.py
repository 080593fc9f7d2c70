"""Sweeps on a real Dask cluster: a LocalCluster of two worker processes on loopback, each
offering the ``inferclock`` resource, running real cells of a tiny model; and the clear
errors of a cluster that cannot take a sweep."""

from __future__ import annotations

import itertools
import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import inferclock as ic

distributed = pytest.importorskip("distributed")

FOUR = dict(batch_sizes=[1, 2, 3, 4], processes=1, iterations=40, warmup=2, quiet=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    mp = pytest.MonkeyPatch()
    # The hosts' caches (shipped models, int8, OpenVINO's) go to a folder of the test's own.
    mp.setenv("INFERCLOCK_CACHE_DIR", str(tmp_path_factory.mktemp("hosts-cache")))
    try:
        with (
            distributed.LocalCluster(
                # Two threads each: only the resource keeps a host to one cell at a time.
                n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                resources={"inferclock": 1}, dashboard_address=":0",
            ) as cluster,
            distributed.Client(cluster) as c,
        ):  # fmt: skip
            yield c
    finally:
        mp.undo()


def _spans(rows: list[dict[str, Any]]) -> dict[str, list[tuple[datetime, datetime]]]:
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in rows:
        span = (
            datetime.fromisoformat(r["task_started_at"]),
            datetime.fromisoformat(r["task_finished_at"]),
        )
        out.setdefault(r["dask_worker"], []).append(span)
    return out


def _overlaps(spans: list[tuple[datetime, datetime]]) -> list[tuple[Any, Any]]:
    spans = sorted(spans)
    return [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]


def test_spread_runs_each_cell_once_one_at_a_time_per_host(
    client: Any, matmul_model: Path, tmp_path: Path
) -> None:
    t = ic.sweep(str(matmul_model), out=tmp_path / "r.jsonl", cluster=client, **FOUR)
    rows = t.rows
    assert len(rows) == 4 and all(r["error"] is None for r in rows)
    assert sorted(r["batch_size"] for r in rows) == [1, 2, 3, 4]
    workers = set(client.scheduler_info()["workers"])
    assert {r["dask_worker"] for r in rows} == workers  # both hosts took cells
    assert {r["host_name"] for r in rows} == {"0", "1"}  # LocalCluster names its workers
    spans = _spans(rows)
    for worker, s in spans.items():
        assert not _overlaps(s), f"two cells overlapped on {worker}: {s}"
    # The run itself lies inside its unit's span on its host.
    for r in rows:
        assert r["task_started_at"] <= r["started_at"] <= r["finished_at"]
        assert r["finished_at"] <= r["task_finished_at"]
        assert r["attempt"] == 1 and r["host"]  # the host's fingerprint id
    header = ic.ResultTable.load(tmp_path / "r.jsonl").headers[0]
    assert header["sweep"]["cluster"]["placement"] == "spread"
    assert header["sweep"]["cluster"]["hosts"] == ["0", "1"]
    from inferclock._platform.host import host_id

    prints = header["sweep"]["cluster"]["fingerprints"]
    assert {host_id(prints[r["host_name"]]) for r in rows} == {r["host"] for r in rows}


def test_every_host_runs_each_cell_on_each_host_and_resumes_per_host(
    client: Any, matmul_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    # Host "0" first; then both hosts: only host "1"'s share is left to run.
    first = ic.sweep(str(matmul_model), out=out, cluster=client, placement="every_host",
                     hosts=["0"], **FOUR)  # fmt: skip
    assert [r["host_name"] for r in first.rows] == ["0"] * 4
    t = ic.sweep(str(matmul_model), out=out, cluster=client, placement="every_host", **FOUR)
    assert len(t.rows) == 8 and all(r["error"] is None for r in t.rows)
    pairs = {(r["key"], r["host_name"]) for r in t.rows}
    assert len(pairs) == 8  # each cell once on each host
    for worker, s in _spans(t.rows).items():
        assert not _overlaps(s), f"two cells overlapped on {worker}: {s}"
    # Resume: nothing left to do, on either host.
    again = ic.sweep(str(matmul_model), out=out, cluster=client, placement="every_host", **FOUR)
    assert len(again.rows) == 8


def test_an_int8_cell_is_quantized_on_the_host(
    client: Any, matmul_model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("nncf")
    from inferclock._timing import int8 as _int8

    here = _int8.quantization_count()
    t = ic.sweep(
        str(matmul_model), precisions=["int8"], out=tmp_path / "r.jsonl", cluster=client,
        hosts=["0"], processes=1, iterations=20, quiet=True,
    )  # fmt: skip
    (row,) = t.rows
    assert row["error"] is None, row["error"]
    assert row["host_name"] == "0" and "hosts-cache" in row["model_path"]
    assert "int8" in row["model_path"] and row["precision_executed"] == "int8"
    assert _int8.quantization_count() == here  # quantized there, not in this process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_address_nobody_listens_on_is_a_clear_error_soon(
    matmul_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    t0 = time.monotonic()
    with pytest.raises(ic.ConfigError, match=r"no Dask scheduler answered within 10 s"):
        ic.sweep(str(matmul_model), out=out, cluster=f"tcp://127.0.0.1:{_free_port()}")
    assert time.monotonic() - t0 < 40
    assert not out.exists()  # refused before the results file was touched


@pytest.mark.parametrize(
    ("resources", "match"),
    [(None, r"offers the 'inferclock' resource: start each with --resources inferclock=1"),
     ({"inferclock": 2}, r"offers inferclock=2; two cells on one host would disturb")],
)  # fmt: skip
def test_a_cluster_without_the_resource_names_the_flag(
    matmul_model: Path, tmp_path: Path, resources: dict[str, int] | None, match: str
) -> None:
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0", resources=resources,
        ) as cluster,
        distributed.Client(cluster) as c,
        pytest.raises(ic.ConfigError, match=match),
    ):  # fmt: skip
        ic.sweep(str(matmul_model), out=tmp_path / "r.jsonl", cluster=c)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cluster": 8786}, TypeError, r"cluster must be a Dask scheduler address"),
        ({"cluster": "tcp://a b"}, ValueError, r"is not a Dask scheduler address"),
        ({"cluster": "tcp://sched"}, ValueError, r"give 'tcp://host:8786'"),
        ({"placement": "everywhere"}, ValueError, r"choose one of: spread, every_host"),
        ({"placement": "every_host"}, ValueError, r"needs cluster="),
        ({"hosts": ["a"]}, ValueError, r"hosts needs cluster="),
        ({"hosts": []}, ValueError, r"hosts must name at least one host"),
        ({"hosts": [3]}, TypeError, r"hosts must be a list of host names"),
    ],
)
def test_bad_cluster_options_are_refused_by_name(
    matmul_model: Path, tmp_path: Path, kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match) as e:
        ic.sweep(str(matmul_model), out=tmp_path / "r.jsonl", **kwargs)
    assert isinstance(e.value, ic.InferclockError)


def test_an_unknown_host_is_refused_naming_the_hosts(
    client: Any, matmul_model: Path, tmp_path: Path
) -> None:
    with pytest.raises(ic.ConfigError, match=r"no host 'nope' in the cluster; its hosts: 0 \("):
        ic.sweep(str(matmul_model), out=tmp_path / "r.jsonl", cluster=client, hosts=["nope"])


def test_a_built_in_model_is_built_on_the_host(client: Any, tmp_path: Path) -> None:
    t = ic.sweep(
        "mobilenet_v2", out=tmp_path / "r.jsonl", cluster=client, hosts=["1"], processes=1,
        iterations=5, quiet=True,
    )  # fmt: skip
    (row,) = t.rows
    assert row["error"] is None, row["error"]
    # The host's own build, not a shipped copy.
    assert re.search(r"hosts-cache\d*/models/mobilenet_v2-", row["model_path"]), row["model_path"]


def test_two_models_with_the_same_bytes_are_shipped_apart(
    client: Any, matmul_model: Path, tmp_path: Path
) -> None:
    import shutil

    copies = []
    for name in ("first", "second"):
        shutil.copy(matmul_model, tmp_path / f"{name}.xml")
        shutil.copy(matmul_model.with_suffix(".bin"), tmp_path / f"{name}.bin")
        copies.append(str(tmp_path / f"{name}.xml"))
    t = ic.sweep(copies, out=tmp_path / "r.jsonl", cluster=client, placement="every_host",
                 processes=1, iterations=10, quiet=True)  # fmt: skip
    assert len(t.rows) == 4 and [r["error"] for r in t.rows] == [None] * 4
    assert {Path(r["model_path"]).name for r in t.rows} == {"first.xml", "second.xml"}
