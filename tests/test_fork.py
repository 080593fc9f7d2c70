"""A child forked after OpenVINO ran in its parent (issue 24 item 5).

OpenVINO's threads stay behind in the parent, so inference in such a child would hang: the
child is refused at once with a ConfigError naming the spawn start method and isolate=True, and
``isolate=True`` works there (its worker is a fresh process). A fork before any use is free.
Each case runs in a fresh interpreter so this test process's own OpenVINO state is not the
subject; the child's answer comes back through a pipe, with a hang guard.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

#: Hang guard for a whole script (compiles included) on a loaded machine.
GUARD_S = 300

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, warnings
    warnings.simplefilter("ignore")
    import inferclock as ic

    model, use_first, isolate = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
    if use_first:
        ic.run(model, iterations=5, warmup=1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = ic.run(model, iterations=5, warmup=1, isolate=isolate)
            out = {"ok": res.n}
        except Exception as e:
            out = {"error": type(e).__name__, "message": str(e),
                   "value_error": isinstance(e, ValueError)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    print(data.decode())
    """
)

POOL = textwrap.dedent(
    """
    import multiprocessing as mp, sys, warnings
    warnings.simplefilter("ignore")
    import inferclock as ic

    def child(model):
        try:
            return "ok " + str(ic.run(model, iterations=5, warmup=1).n)
        except ic.ConfigError as e:
            return "ConfigError: " + str(e)

    if __name__ == "__main__":
        ic.run(sys.argv[1], iterations=5, warmup=1)
        with mp.get_context("fork").Pool(1) as pool:
            print(pool.apply_async(child, (sys.argv[1],)).get(timeout=GUARD))
    """
)


def _script(*args: str, source: str = SCRIPT) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", source, *args], capture_output=True, text=True, timeout=GUARD_S
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_a_child_forked_after_a_run_is_refused_at_once(matmul_model: Path) -> None:
    got = json.loads(_script(str(matmul_model), "1", "0"))
    assert got.get("error") == "ConfigError", got
    assert got["value_error"]
    msg = got["message"]
    assert "forked" in msg and "spawn" in msg and "isolate=True" in msg


def test_a_fork_pool_child_gets_the_error_instead_of_a_hang(matmul_model: Path) -> None:
    out = _script(str(matmul_model), source=POOL.replace("GUARD", str(GUARD_S // 2)))
    assert out.startswith("ConfigError: ") and "spawn" in out, out


def test_isolate_true_works_in_a_child_forked_after_a_run(matmul_model: Path) -> None:
    got = json.loads(_script(str(matmul_model), "1", "1"))
    assert got == {"ok": 5}, got


def test_a_fork_before_any_run_is_free(matmul_model: Path) -> None:
    got = json.loads(_script(str(matmul_model), "0", "0"))
    assert got == {"ok": 5}, got


def test_the_parent_keeps_working_after_forking(matmul_model: Path) -> None:
    """The flag is the child's alone: the parent runs again after its child was refused."""
    again = "    ic.run(model, iterations=5, warmup=1)\n    print(data.decode())"
    source = SCRIPT.replace("    print(data.decode())", again)
    got = json.loads(_script(str(matmul_model), "1", "0", source=source))
    assert got.get("error") == "ConfigError", got
