"""Git plumbing for the local forge: the ``git`` CLI on one bare repository, and the checks
every owner, repository, branch and file path passes before it reaches git or the disk."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from core.ports.clock import Clock
from core.ports.code_host import CodeHostError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# The "old value" update-ref expects for a ref that must not exist yet.
ZERO_SHA = "0" * 40


class Git:
    """The ``git`` CLI on one bare repository: fixed argv, no shell, TfPilot as author."""

    def __init__(self, git_dir: Path, clock: Clock) -> None:
        self.git_dir = git_dir
        self._clock = clock

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        stamp = f"@{int(self._clock.now().timestamp())} +0000"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "TMPDIR", "LANG", "SYSTEMROOT")}
        env.update(
            {
                "HOME": str(self.git_dir),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_AUTHOR_NAME": "TfPilot",
                "GIT_AUTHOR_EMAIL": "tfpilot@localhost",
                "GIT_COMMITTER_NAME": "TfPilot",
                "GIT_COMMITTER_EMAIL": "tfpilot@localhost",
                "GIT_AUTHOR_DATE": stamp,
                "GIT_COMMITTER_DATE": stamp,
            }
        )
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(  # noqa: S603 - fixed argv, never a shell
            ["git", f"--git-dir={self.git_dir}", *args],  # noqa: S607 - git from PATH, by design
            input=stdin,
            env=self._env(env),
            capture_output=True,
            check=False,
            timeout=60,
        )
        if proc.returncode not in ok_codes:
            detail = proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(errors="replace").strip()
            raise CodeHostError(f"git {args[0]} failed: {detail[:500]}", status=500)
        return proc

    def out(self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None) -> str:
        return self.run(*args, stdin=stdin, env=env).stdout.decode().strip()

    def init(self, branch: str) -> None:
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(  # noqa: S603
            ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.git_dir)],  # noqa: S607
            env=self._env(),
            capture_output=True,
            check=False,
            timeout=60,
        )
        if proc.returncode != 0:
            raise CodeHostError(f"git init failed: {proc.stderr.decode(errors='replace')[:500]}", status=500)

    def rev(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", ref + "^{commit}", ok_codes=(0, 1, 128))
        sha = proc.stdout.decode().strip()
        return sha if proc.returncode == 0 and SHA_RE.match(sha) else None

    def branch_head(self, branch: str) -> str | None:
        return self.rev(f"refs/heads/{branch}")

    def update_ref(self, branch: str, new: str, old: str) -> bool:
        proc = self.run("update-ref", f"refs/heads/{branch}", new, old, ok_codes=(0, 1, 128))
        return proc.returncode == 0

    def commit(self, parent: str | None, files: Mapping[str, str | None], message: str) -> str:
        """A commit of ``parent``'s tree with ``files`` written (None deletes); not yet on a branch."""
        index_dir = self.git_dir / "tfpilot-tmp"
        index_dir.mkdir(exist_ok=True)
        index = index_dir / f"index-{uuid.uuid4().hex}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            if parent:
                self.run("read-tree", parent, env=env)
            lines: list[str] = []
            for path, content in sorted(files.items()):
                if content is None:
                    lines.append(f"0 {ZERO_SHA}\t{path}")
                else:
                    blob = self.out("hash-object", "-w", "--stdin", stdin=content.encode())
                    lines.append(f"100644 {blob}\t{path}")
            if lines:
                self.run("update-index", "--index-info", stdin=("\n".join(lines) + "\n").encode(), env=env)
            tree = self.out("write-tree", env=env)
        finally:
            with contextlib.suppress(FileNotFoundError):
                index.unlink()
        args = ["commit-tree", tree, "-F", "-"]
        if parent:
            args[2:2] = ["-p", parent]
        return self.out(*args, stdin=message.encode())

    def tree_files(self, sha: str) -> dict[str, str]:
        listing = self.run("ls-tree", "-r", "-z", "--full-tree", sha).stdout.decode()
        entries: list[tuple[str, str]] = []
        for item in listing.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            _mode, kind, oid = meta.split()
            if kind == "blob":
                entries.append((path, oid))
        if not entries:
            return {}
        batch = self.run("cat-file", "--batch", stdin=("\n".join(oid for _, oid in entries) + "\n").encode()).stdout
        out: dict[str, str] = {}
        pos = 0
        for path, _oid in entries:
            header_end = batch.index(b"\n", pos)
            size = int(batch[pos:header_end].split()[2])
            body = batch[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
            with contextlib.suppress(UnicodeDecodeError):
                out[path] = body.decode("utf-8")
        return out

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run("merge-base", a, b, ok_codes=(0, 1))
        sha = proc.stdout.decode().strip()
        return sha if proc.returncode == 0 and sha else None

    def is_ancestor(self, a: str, b: str) -> bool:
        return self.run("merge-base", "--is-ancestor", a, b, ok_codes=(0, 1)).returncode == 0

    def merge_tree(self, base: str, head: str) -> tuple[str | None, list[str]]:
        """The merged tree of ``base`` and ``head``, or None and the conflicting paths."""
        proc = self.run("merge-tree", "--write-tree", "--name-only", "-z", base, head, ok_codes=(0, 1))
        parts = proc.stdout.decode().split("\0")
        if proc.returncode == 0:
            return parts[0].strip(), []
        conflicts: list[str] = []
        for part in parts[1:]:
            if not part:
                break  # an empty entry ends the conflicted-file list; informational messages follow
            conflicts.append(part)
        return None, sorted(set(conflicts))

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.out(*args, "-F", "-", stdin=message.encode())

    def tree_of(self, sha: str) -> str:
        return self.out("rev-parse", f"{sha}^{{tree}}")


def check_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value) or value in (".", "..") or value.endswith(".git"):
        raise CodeHostError(f"invalid {kind} name {value!r}", status=422)
    return value


def check_branch(branch: str) -> str:
    ok = (
        bool(branch)
        and len(branch) <= 200
        and re.match(r"^[A-Za-z0-9._/-]+$", branch) is not None
        and not branch.startswith(("/", "-", "."))
        and not branch.endswith(("/", ".", ".lock"))
        and ".." not in branch
        and "//" not in branch
        and "/." not in branch
    )
    if not ok:
        raise CodeHostError(f"invalid branch name {branch!r}", status=422)
    return branch


def check_path(path: str) -> str:
    parts = path.split("/")
    bad = (
        not path
        or path.startswith("/")
        or any(p in ("", ".", "..", ".git") for p in parts)
        or any(ord(c) < 32 or c == "\x7f" for c in path)
        or len(path) > 400
    )
    if bad:
        raise CodeHostError(f"invalid file path {path!r}", status=422)
    return path
