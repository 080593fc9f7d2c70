"""A git checkout as ``inferclock bisect`` drives it: the checks before any work (a work tree,
commits that exist, GOOD an ancestor of BAD, no uncommitted change to a tracked file, no bisect
already under way), ``git bisect start/good/bad/skip`` and their outcome, and ``git bisect
reset`` back to where the checkout was.

git runs with ``LC_ALL=C`` so that its messages ("is the first bad commit", "only 'skip'ped
commits left") read the same in every locale.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from inferclock._common.errors import ConfigError

#: The longest a git command may take (a hang guard: checkouts of big trees are slow).
GIT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Mark:
    """What git said after a commit was marked: the commit to test next (HEAD), or the first
    bad commit, or the commits left that were all skipped."""

    next: str | None = None
    first_bad: str | None = None
    candidates: tuple[str, ...] = ()


class Repo:
    """A git work tree at ``path`` (any folder inside it); ConfigError when it is not one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ConfigError(f"--repo {str(self.path)!r} is not a directory")
        p = self._git("rev-parse", "--is-inside-work-tree", check=False)
        if p.returncode != 0 or p.stdout.strip() != "true":
            raise ConfigError(
                f"--repo {str(self.path)!r} is not inside a git work tree (git says: "
                f"{_last_line(p)})"
            )
        self.top = Path(self._git("rev-parse", "--show-toplevel").stdout.strip())

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0"}
        try:
            p = subprocess.run(
                ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env,
                timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise ConfigError("git is not installed (no 'git' on PATH): bisect needs it") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"git {' '.join(args)} in {str(self.path)!r} took over {GIT_TIMEOUT_S:g} s"
            ) from None
        if check and p.returncode != 0:
            raise ConfigError(f"git {' '.join(args)} in {str(self.path)!r} failed: {_last_line(p)}")
        return p

    def commit(self, name: str, what: str) -> str:
        """The full hash of commit ``name`` (``what``: the argument it came from)."""
        if not isinstance(name, str) or not name.strip() or name.startswith("-"):
            raise ConfigError(f"{what} must name a commit (a hash, branch or tag), got {name!r}")
        p = self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}",
                      check=False)  # fmt: skip
        if p.returncode != 0:
            raise ConfigError(f"{what} {name!r} is not a commit of the repository {str(self.top)!r}"
                              )  # fmt: skip
        return p.stdout.strip()

    def check_range(self, good: str, bad: str) -> None:
        """GOOD must be a proper ancestor of BAD: there is something between them to search."""
        if good == bad:
            raise ConfigError(f"GOOD and BAD are the same commit {good[:12]}: nothing to bisect")
        p = self._git("merge-base", "--is-ancestor", good, bad, check=False)
        if p.returncode == 1:
            raise ConfigError(
                f"GOOD {good[:12]} is not an ancestor of BAD {bad[:12]}: bisect searches the "
                "commits from GOOD to BAD (swap them, or pick a GOOD in BAD's history)"
            )
        if p.returncode != 0:
            raise ConfigError(f"git merge-base --is-ancestor failed: {_last_line(p)}")

    def check_clean(self) -> None:
        """No bisect under way and no uncommitted change to a tracked file (untracked files
        are left alone: checkouts keep them)."""
        if self.bisecting():
            raise ConfigError(
                f"a git bisect is already under way in {str(self.top)!r}: finish it, or end it "
                "with 'git bisect reset', before inferclock bisect starts its own"
            )
        p = self._git("status", "--porcelain", "--untracked-files=no")
        changed = [line[3:] for line in p.stdout.splitlines() if line.strip()]
        if changed:
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                              else "")  # fmt: skip
            raise ConfigError(
                f"the work tree of {str(self.top)!r} has uncommitted changes ({shown}): commit "
                "or stash them first; bisect checks out other commits"
            )

    def changed(self) -> list[str]:
        """Tracked files changed in the work tree (after a command ran)."""
        p = self._git("status", "--porcelain", "--untracked-files=no")
        return [line[3:] for line in p.stdout.splitlines() if line.strip()]

    def discard(self) -> None:
        """Tracked files back as HEAD has them (``git reset --hard``; untracked files stay):
        only for changes a command made in a tree that was clean."""
        self._git("reset", "--hard", "--quiet")

    def bisecting(self) -> bool:
        p = self._git("rev-parse", "--git-path", "BISECT_START")
        where = Path(p.stdout.strip())
        return (where if where.is_absolute() else self.path / where).exists()

    def where(self) -> str:
        """The branch checked out (``refs/heads/...`` shortened), else HEAD's hash."""
        p = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return p.stdout.strip() if p.returncode == 0 else self.head()

    def head(self) -> str:
        return self._git("rev-parse", "HEAD").stdout.strip()

    def subject(self, commit: str) -> str:
        return self._git("log", "-1", "--format=%s", commit).stdout.strip()

    def date(self, commit: str) -> str:
        """The commit's date, ISO 8601."""
        return self._git("log", "-1", "--format=%cI", commit).stdout.strip()

    def between(self, good: str, bad: str) -> int:
        """How many commits lie after GOOD up to BAD (BAD included)."""
        return int(self._git("rev-list", "--count", f"{good}..{bad}").stdout.strip())

    def start(self) -> None:
        self._git("bisect", "start")

    def checkout(self, commit: str) -> None:
        self._git("checkout", "--quiet", "--detach", commit)

    def mark(self, verdict: str, commit: str | None = None) -> Mark:
        """``git bisect good|bad|skip [commit]`` and what git says comes next."""
        p = self._git("bisect", verdict, *([commit] if commit else []), check=False)
        out = p.stdout
        if "is the first bad commit" in out:
            line = next(x for x in out.splitlines() if "is the first bad commit" in x)
            return Mark(first_bad=line.split()[0])
        if "only 'skip'ped commits left" in out:
            listed = out.split("could be any of:", 1)[-1].splitlines()
            found = [w for w in listed if len(w.strip()) >= 40 and " " not in w.strip()]
            return Mark(candidates=tuple(w.strip() for w in found))
        if p.returncode != 0:
            raise ConfigError(f"git bisect {verdict} failed: {_last_line(p)}")
        if "waiting for" in out:  # bisect start without both ends yet
            return Mark()
        return Mark(next=self.head())

    def reset(self) -> str | None:
        """``git bisect reset``: back to the branch (or commit) the bisect started on. None
        when done, else why it failed."""
        p = self._git("bisect", "reset", check=False)
        return None if p.returncode == 0 else _last_line(p)


def _last_line(p: subprocess.CompletedProcess[str]) -> str:
    lines = (p.stderr or p.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {p.returncode}"
