"""A tiny fake of the GitHub REST API: a real HTTP server on 127.0.0.1 (port 0) in a thread.

It answers the few endpoints the approve -> merge -> apply lifecycle and the sync refresh use
(PR read and merge, reviews list, issue comments, workflow dispatch with ``return_run_details``,
runs by id and by workflow, an empty artifacts list, ``/rate_limit``), with GitHub's document
shapes, and counts every call (dispatches per workflow and request id, merges, comments). One
instance is shared by every ``tfpilot serve`` process of a test, as GitHub is. Any other call is
answered 404 and recorded in ``unexpected`` so a test can assert the lifecycle stayed on the
endpoints it expects.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakePull:
    number: int
    head_ref: str
    head_sha: str
    base_ref: str = "main"
    state: str = "open"
    merged: bool = False
    merge_sha: str | None = None
    merged_at: str | None = None
    title: str = ""


@dataclass
class FakeRun:
    run_id: int
    workflow: str
    ref: str
    request_id: str
    head_sha: str = "c" * 40
    status: str = "queued"
    conclusion: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)


class FakeGitHub:
    def __init__(self, owner: str = "acme", repo: str = "infra") -> None:
        self.owner, self.repo = owner, repo
        self.pulls: dict[int, FakePull] = {}
        self.runs: dict[int, FakeRun] = {}
        self.comments: Counter[int] = Counter()
        self.merges: Counter[int] = Counter()
        self.dispatches: Counter[tuple[str, str]] = Counter()  # (workflow, request_id)
        self.calls: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self._run_ids = itertools.count(70_000_001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- server ---------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = fake.handle(self.command, self.path, raw)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.send_header("x-ratelimit-remaining", "4999")
                self.send_header("x-ratelimit-limit", "5000")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def api_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- documents ------------------------------------------------------------------------

    def _repo_doc(self) -> dict[str, Any]:
        return {"full_name": f"{self.owner}/{self.repo}", "name": self.repo}

    def pull_doc(self, pr: FakePull) -> dict[str, Any]:
        return {
            "number": pr.number,
            "html_url": f"https://github.test/{self.owner}/{self.repo}/pull/{pr.number}",
            "state": pr.state,
            "merged": pr.merged,
            "merged_at": pr.merged_at,
            "closed_at": pr.merged_at,
            "merge_commit_sha": pr.merge_sha,
            "mergeable_state": "clean",
            "title": pr.title,
            "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": self._repo_doc()},
            "base": {"ref": pr.base_ref, "sha": "0" * 40, "repo": self._repo_doc()},
        }

    def run_doc(self, run: FakeRun) -> dict[str, Any]:
        kind = run.workflow.removesuffix(".yml")
        return {
            "id": run.run_id,
            "name": kind,
            "display_title": f"{kind} {run.request_id}",
            "path": f".github/workflows/{run.workflow}",
            "head_branch": run.ref,
            "head_sha": run.head_sha,
            "status": run.status,
            "conclusion": run.conclusion,
            "event": "workflow_dispatch",
            "html_url": f"https://github.test/{self.owner}/{self.repo}/actions/runs/{run.run_id}",
            "created_at": run.created_at,
            "updated_at": run.updated_at,
            "head_repository": self._repo_doc(),
            "repository": self._repo_doc(),
        }

    # --- test controls --------------------------------------------------------------------

    def add_pull(self, number: int, request_id: str, head_sha: str) -> FakePull:
        pr = FakePull(number=number, head_ref=f"request/{request_id}", head_sha=head_sha, title=request_id)
        with self._lock:
            self.pulls[number] = pr
        return pr

    def add_run(
        self, workflow: str, request_id: str, ref: str, head_sha: str, conclusion: str | None = "success"
    ) -> FakeRun:
        with self._lock:
            run = FakeRun(next(self._run_ids), workflow, ref, request_id, head_sha)
            if conclusion is not None:
                run.status, run.conclusion = "completed", conclusion
            self.runs[run.run_id] = run
        return run

    def set_run(self, run_id: int, status: str, conclusion: str | None = None) -> FakeRun:
        with self._lock:
            run = self.runs[run_id]
            run.status, run.conclusion, run.updated_at = status, conclusion, _now()
            return run

    def runs_for(self, request_id: str, workflow: str) -> list[FakeRun]:
        with self._lock:
            return [r for r in self.runs.values() if r.request_id == request_id and r.workflow == workflow]

    # --- routing --------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, raw: bytes) -> tuple[int, Any]:
        path = urlsplit(raw_path).path
        body = json.loads(raw) if raw else {}
        prefix = f"/repos/{self.owner}/{self.repo}"
        with self._lock:
            self.calls[f"{method} {re.sub(r'/[0-9]+', '/N', path)}"] += 1
            if method == "GET" and path == "/rate_limit":
                return 200, {"resources": {"core": {"remaining": 4999}}}
            if not path.startswith(prefix):
                self.unexpected.append(f"{method} {path}")
                return 404, {"message": "Not Found"}
            rest = path[len(prefix) :]
            return self._route(method, rest, body, f"{method} {path}")

    def _route(self, method: str, rest: str, body: dict[str, Any], label: str) -> tuple[int, Any]:
        if m := re.fullmatch(r"/pulls/(\d+)", rest):
            pr = self.pulls.get(int(m.group(1)))
            if pr is None or method != "GET":
                return self._unexpected(label)
            return 200, self.pull_doc(pr)
        if (m := re.fullmatch(r"/pulls/(\d+)/reviews", rest)) and method == "GET":
            return 200, []
        if (m := re.fullmatch(r"/pulls/(\d+)/merge", rest)) and method == "PUT":
            pr = self.pulls.get(int(m.group(1)))
            if pr is None:
                return self._unexpected(label)
            if pr.merged:
                return 405, {"message": "Pull Request is not mergeable"}
            if body.get("sha") != pr.head_sha:
                return 409, {"message": "Head branch was modified. Review and try the merge again."}
            self.merges[pr.number] += 1
            pr.merged, pr.state, pr.merged_at = True, "closed", _now()
            pr.merge_sha = f"{pr.number:040d}"
            return 200, {"sha": pr.merge_sha, "merged": True, "message": "Pull Request successfully merged"}
        if (m := re.fullmatch(r"/issues/(\d+)/comments", rest)) and method == "POST":
            self.comments[int(m.group(1))] += 1
            return 201, {"id": sum(self.comments.values()), "body": body.get("body", "")}
        if (m := re.fullmatch(r"/actions/workflows/([\w.-]+)/dispatches", rest)) and method == "POST":
            workflow = m.group(1)
            request_id = str((body.get("inputs") or {}).get("request_id"))
            self.dispatches[(workflow, request_id)] += 1
            ref = str(body.get("ref"))
            merged = next((p.merge_sha for p in self.pulls.values() if p.title == request_id and p.merge_sha), None)
            head = merged if ref == "main" and merged else "c" * 40
            run = FakeRun(next(self._run_ids), workflow, ref, request_id, head)
            self.runs[run.run_id] = run
            if body.get("return_run_details"):
                doc = self.run_doc(run)
                return 200, {"workflow_run_id": run.run_id, "run_url": doc["html_url"], "html_url": doc["html_url"]}
            return 204, None
        if (m := re.fullmatch(r"/actions/workflows/([\w.-]+)/runs", rest)) and method == "GET":
            runs = [self.run_doc(r) for r in self.runs.values() if r.workflow == m.group(1)]
            return 200, {"total_count": len(runs), "workflow_runs": runs}
        if (m := re.fullmatch(r"/actions/runs/(\d+)", rest)) and method == "GET":
            run = self.runs.get(int(m.group(1)))
            return (200, self.run_doc(run)) if run is not None else self._unexpected(label)
        # An unprotected base branch, as on a new repository: approve reads its protection.
        if re.fullmatch(r"/branches/[^/]+/protection", rest) and method == "GET":
            return 404, {"message": "Branch not protected"}
        if re.fullmatch(r"/rules/branches/[^/]+", rest) and method == "GET":
            return 200, []
        if re.fullmatch(r"/actions/runs/(\d+)/artifacts", rest) and method == "GET":
            return 200, {"total_count": 0, "artifacts": []}
        return self._unexpected(label)

    def _unexpected(self, label: str) -> tuple[int, Any]:
        self.unexpected.append(label)
        return 404, {"message": "Not Found"}
