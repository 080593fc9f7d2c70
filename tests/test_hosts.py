"""Results of several hosts (issue 12): a cluster sweep's file holds the rows of its Dask
workers, two of them possibly on one machine (same ``host`` id, different ``host_name``).
Summaries, reports and compare keep each host apart; compare picks a host per side.

Synthetic rows (tests/synthetic.py) with the host fields a cluster sweep writes."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from synthetic import HEADER, lognormal_ns, make_row, write_table

from inferclock.__main__ import main
from inferclock._analysis.compare import compare
from inferclock._analysis.table import ResultTable, ResultWriter
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._platform.host import host_id

MACHINE = "3fa2b1c4d5e6"  # one machine: a test cluster of two workers on loopback
CLUSTER_HEADER = {
    **HEADER,
    "sweep": {
        **HEADER["sweep"],
        "cluster": {"address": "tcp://127.0.0.1:8786", "placement": "spread", "hosts": 2},
    },
}
CELLS = [("tiny", p, b, "latency") for p in ("f32", "bf16") for b in (1, 8)]


def _rows(
    host_name: str | None,
    scale: float,
    *,
    machine: str | None = MACHINE,
    processes: int = 2,
    raw_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """One row per cell x process, measured on ``host_name`` (``scale`` x the base latency);
    with ``raw_dir``, its raw latencies saved there."""
    rows = []
    for i, (model, prec, batch, mode) in enumerate(CELLS):
        for proc in range(processes):
            base = 0.8 * batch**0.7 * (0.6 if prec == "bf16" else 1.0)
            samples = (lognormal_ns(base, seed=100 * i + proc) * scale).astype(np.int64)
            raw = None
            if raw_dir is not None:
                raw = f"raw/{host_name}_{model}_{prec}_{batch}_p{proc}.npy"
                (raw_dir / "raw").mkdir(exist_ok=True)
                np.save(raw_dir / raw, samples)
            row = make_row(model, prec, batch, samples, mode=mode, process=proc, raw=raw)
            if machine is not None:
                row["host"] = machine
            if host_name is not None:
                row.update(host_name=host_name, dask_worker=f"tcp://127.0.0.1:4{proc}00")
                row.update(attempt=1, task_started_at=row["started_at"])
                row["task_finished_at"] = row["finished_at"]
            rows.append(row)
    return rows


def _file(
    path: Path,
    hosts: dict[str, float],
    header: dict[str, Any] = CLUSTER_HEADER,
    raw_of: tuple[str, ...] = (),
) -> Path:
    """A results file with the rows of each host name (value: its latency scale); the hosts
    in ``raw_of`` saved their raw latencies."""
    w = ResultWriter(path, header)
    for name, scale in hosts.items():
        for row in _rows(name, scale, raw_dir=path.parent if name in raw_of else None):
            w.append(row)
    return path


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    """A cluster sweep's file: workers w1 and w2 on one machine, w2 30% slower."""
    return _file(tmp_path / "cluster.jsonl", {"w1": 1.0, "w2": 1.3})


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own errors
            rc = int(e.code or 0)
    return rc, out.getvalue(), err.getvalue()


def test_a_cluster_file_loads_and_keeps_each_worker_apart(cluster: Path) -> None:
    t = ResultTable.load(cluster)  # several hosts, no allow_mixed: its header says cluster
    assert t.hosts() == ["w1", "w2"]
    summary = t.summary()
    assert len(summary) == 2 * len(CELLS)  # one line per (cell, host)
    assert sorted((s.key, s.host) for s in summary) == sorted(
        (k, h) for k in t.keys() for h in ("w1", "w2")
    )
    assert {s.host_id for s in summary} == {MACHINE}
    # Each line holds its own host's two processes; pooled, the 30% gap between the workers
    # would make every cell multimodal.
    assert all(s.runs == 2 and s.processes == 2 and not s.multimodal for s in summary)
    by = {(s.key, s.host): s.median_ns for s in summary}
    assert all(by[(k, "w2")] / by[(k, "w1")] == pytest.approx(1.3, rel=0.01) for k in t.keys())
    md = t.to_markdown()
    assert md.startswith("| host | model |") and "| w1 | tiny |" in md and "| w2 | tiny |" in md


def test_report_draws_each_host_in_its_own_figures(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from inferclock._render.report import report

    odd = "tcp://10.0.0.2:4000"  # a worker named by its address: sanitized in file names
    path = _file(tmp_path / "cluster.jsonl", {"w1": 1.0, odd: 1.3}, raw_of=("w1",))
    md = report(path, tmp_path / "rep").read_text()
    out = tmp_path / "rep"
    for slug in ("w1", "tcp_10.0.0.2_4000"):
        for stem in ("latency", "throughput", "latency_cdf", "startup"):
            for ext in ("png", "svg"):
                assert (out / f"{stem}_{slug}.{ext}").is_file(), f"{stem}_{slug}.{ext}"
            assert f"]({stem}_{slug}.png)" in md
    assert not (out / "latency.png").exists()  # no figure pooling the hosts
    assert "host w1" in (out / "latency_w1.svg").read_text()  # named in the figure's title
    assert "Results of 2 hosts, never pooled" in md
    assert "### Latency vs batch size on w1" in md and f"### Start-up on {odd}" in md
    assert "| host | model |" in md and f"| {odd} | tiny |" in md
    assert "| tiny CPU f32 b1 latency (cold) [w1] |" in md  # executed precisions, per host
    # Each host's CDFs come from its own rows: w1 saved raw latencies, the other did not.
    w1, other = md.split("### Latency distributions on ")[1:3]
    assert w1.startswith("w1") and "4 cell(s) drawn from raw" in w1 and "approx" not in w1
    assert other.startswith(odd) and "drawn from raw" not in other
    assert "approximated from recorded percentiles" in other


def test_report_of_one_host_is_unchanged(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from inferclock._render.report import report

    path = _file(tmp_path / "one.jsonl", {"w1": 1.0})
    md = report(path, tmp_path / "rep").read_text()
    assert (tmp_path / "rep" / "latency.png").is_file()
    assert not list((tmp_path / "rep").glob("*_w1.*"))
    assert "| host |" not in md and "hosts, never pooled" not in md


def test_compare_two_workers_of_one_file(cluster: Path) -> None:
    c = compare(cluster, cluster, a_host="w1", b_host="w2")
    assert len(c.cells) == len(CELLS) and not c.only_a and not c.missing
    assert all(cell.verdict == "slower" for cell in c.cells)
    assert all(cell.ratio == pytest.approx(1.3, rel=0.01) for cell in c.cells)
    assert all(cell.runs_a == cell.runs_b == 2 for cell in c.cells)  # one worker's rows each
    back = compare(cluster, cluster, a_host="w2", b_host="w1")
    assert all(cell.verdict == "faster" for cell in back.cells)
    assert "Hosts: A w1, B w2." in c.to_markdown()
    # A table as a side works the same; the same host on both sides is "same".
    t = ResultTable.load(cluster)
    assert {x.verdict for x in compare(t, t, a_host="w1", b_host="w1").cells} == {"same"}
    # The command line: B may be left out when both hosts are given.
    argv = ["compare", str(cluster), "--a-host", "w1", "--b-host", "w2", "--fail-above", "5%"]
    rc, out, err = _cli([*argv, "--json", str(cluster.parent / "c.json")])
    assert rc == 1 and f"{len(CELLS)} slower, 0 no interval" in out and "FAIL" in err, err
    d = json.loads((cluster.parent / "c.json").read_text())
    assert d["host_a"] == "w1" and d["host_b"] == "w2" and len(d["regressions"]) == len(CELLS)


def test_a_host_is_picked_by_name_id_or_id_prefix(tmp_path: Path) -> None:
    other = "9c0ffee12345"
    path = tmp_path / "two-machines.jsonl"
    w = ResultWriter(path, CLUSTER_HEADER)
    for row in [*_rows("w1", 1.0), *_rows("w9", 1.3, machine=other)]:
        w.append(row)
    for a, b in (("w1", "w9"), (MACHINE, other), (MACHINE[:3], other[:2])):
        c = compare(path, path, a_host=a, b_host=b)
        assert {x.verdict for x in c.cells} == {"slower"}, (a, b)
    # An id whose machine ran two workers picks both: a side of two hosts, refused.
    both = _file(tmp_path / "c.jsonl", {"w1": 1.0, "w2": 1.3})
    with pytest.raises(ConfigError, match=r"A holds rows of 2 hosts.*hosts: w1 \(id 3fa2"):
        compare(both, both, a_host=MACHINE, b_host="w2")


def test_an_unknown_host_is_an_error_naming_the_hosts(cluster: Path) -> None:
    hosts = r"w1 \(id 3fa2b1c4d5e6\), w2 \(id 3fa2b1c4d5e6\)"
    with pytest.raises(ConfigError, match=rf"B: no host 'w3'; its hosts: {hosts}"):
        compare(cluster, cluster, a_host="w1", b_host="w3")
    rc, out, err = _cli(["compare", str(cluster), "--a-host", "w0", "--b-host", "w2"])
    assert rc == 2 and "error: compare: A: no host 'w0'; its hosts: w1" in err and out == ""
    # A cluster side of several hosts without a host flag says how to pick one.
    with pytest.raises(ConfigError, match=r"cluster sweep's: pass --a-host/--b-host.*hosts: w1"):
        compare(cluster, cluster)
    rc, _, err = _cli(["compare", str(cluster), str(cluster), "--b-host", "w2"])
    assert rc == 2 and "A holds rows of 2 hosts" in err and "--a-host/--b-host" in err
    # B is required unless both hosts are given; a host name must be a non-empty str.
    rc, _, err = _cli(["compare", str(cluster), "--a-host", "w1"])
    assert rc == 2 and "compare needs B" in err
    with pytest.raises(ConfigTypeError, match=r"compare: a_host must be a host name"):
        compare(cluster, cluster, a_host=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"compare: b_host must be a host name.*got ''"):
        compare("/nonexistent/a.jsonl", "/nonexistent/b.jsonl", b_host="")


def test_older_rows_without_host_name_still_work(tmp_path: Path) -> None:
    old = write_table(tmp_path / "old.jsonl", CELLS, raw=False)  # no host, no host_name
    hid = host_id(HEADER["environment"])
    assert hid is not None
    t = ResultTable.load(old)
    assert t.hosts() == [hid] and {s.host for s in t.summary()} == {hid}
    c = compare(old, old, a_host=hid[:5], b_host=hid)
    assert {x.verdict for x in c.cells} == {"same"}
    # A sweep begun before rows had host_name and resumed after: one machine, one host.
    resumed = tmp_path / "resumed.jsonl"
    w = ResultWriter(resumed, HEADER)
    for row in [*_rows(None, 1.0, machine=None, processes=1), *_rows("box", 1.0, machine=hid)]:
        w.append(row)
    t = ResultTable.load(resumed)
    assert t.hosts() == ["box"]
    assert [s.runs for s in t.summary()] == [3] * len(CELLS) and "| host |" not in t.to_markdown()


def test_a_local_file_of_two_machines_is_still_refused(tmp_path: Path) -> None:
    local_header = {**HEADER, "sweep": {**HEADER["sweep"], "cluster": None}}
    rows = [*_rows("a", 1.0), *_rows("b", 1.3, machine="9c0ffee12345")]
    path, same_rows_of_a_cluster = tmp_path / "local.jsonl", tmp_path / "two-machines.jsonl"
    for p, header in ((path, local_header), (same_rows_of_a_cluster, CLUSTER_HEADER)):
        w = ResultWriter(p, header)
        for row in rows:
            w.append(row)
    with pytest.raises(ConfigError, match=r"2 different hosts.*allow_mixed"):
        ResultTable.load(path)
    assert ResultTable.load(path, allow_mixed=True).hosts() == ["a", "b"]
    assert ResultTable.load(same_rows_of_a_cluster).hosts() == ["a", "b"]  # a cluster's: loads
    with pytest.raises(ConfigError, match=r"2 different hosts"):
        compare(path, path)
    # Picking one host per side is no pooling: it compares.
    assert {x.verdict for x in compare(path, path, a_host="a", b_host="b").cells} == {"slower"}
    # A cluster file with a file of another machine is mixing machines too; with a file of
    # one of its own machines it is not.
    cluster = _file(tmp_path / "cluster.jsonl", {"w1": 1.0, "w2": 1.3})
    elsewhere = write_table(tmp_path / "elsewhere.jsonl", CELLS, raw=False)
    with pytest.raises(ConfigError, match=r"2 different hosts"):
        ResultTable.load(cluster, elsewhere)
    mine = _file(tmp_path / "mine.jsonl", {"w1": 1.0}, local_header)
    assert ResultTable.load(cluster, mine).hosts() == ["w1", "w2"]


@settings(max_examples=40, deadline=None, database=None)
@given(
    name=st.sampled_from(["a_host", "b_host"]),
    value=st.one_of(
        st.just(""),
        st.integers(),
        st.floats(allow_nan=True),
        st.booleans(),
        st.binary(max_size=3),
        st.lists(st.text(max_size=2), max_size=2),
        st.builds(object),
    ),
)
def test_host_arguments_are_checked_by_name_before_reading(name: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"a": "/nonexistent/a.jsonl", "b": "/nonexistent/b.jsonl"}
    with pytest.raises(ConfigError) as e:  # FileNotFoundError here: a value got through
        compare(**kwargs, **{name: value})
    assert f"compare: {name} must be" in str(e.value)
    assert isinstance(e.value, ConfigTypeError) == (not isinstance(value, str))
