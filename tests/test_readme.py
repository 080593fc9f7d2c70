"""The README's set-up commands and tour stay true: CI runs its test command verbatim, and
every ``ic.<name>`` the tour uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import inferclock as ic

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert blocks[:2] == [
        "pip install '.[all]' && inferclock demo\n",
        "pip install '.[test]' && pytest\n",
    ]
    assert blocks[1].strip() in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_tour_names_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    used = set(re.findall(r"\bic\.([A-Za-z_]\w*)", readme))
    assert used and all(hasattr(ic, name) for name in used), sorted(
        n for n in used if not hasattr(ic, n)
    )
