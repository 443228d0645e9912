"""``GitHubSim``: a small stateful GitHub REST API for respx, and the webhooks it would send.

It answers the operations ``GitHubCodeHost`` uses (git refs/commits/trees, file contents (get,
create or replace, with GitHub's blob-sha check), pulls, labels, reviews, comments, merge,
workflow dispatch, runs, jobs, artifacts and the artifact download redirect) with bodies shaped like
GitHub's, keeps real state (commits with parents and trees,
PR heads that follow their branch, squash merges, runs you can complete), answers conditional
GETs with 304 when the ETag still matches, and builds webhook deliveries from the octokit
fixtures for the state it holds. A dispatched ``cleanup.yml`` does at once what the scaffold's
workflow does with the gh CLI: branch ``cleanup/<id>`` from the dispatched branch, a commit
removing ``envs/<env>/tfpilot_<id>.tf``, a PR (none when one is open or the file is absent);
its run stays queued for the test to drive, like every run. Mount it with ``respx`` (``router.route().mock(side_effect=
sim.handler)``) behind the OpenAPI contract checker.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import itertools
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from core.domain.ids import request_id_in_text
from tests.services import deliveries
from tests.services.fake_code_host import diverged
from tests.services.github_sim_protection import PROTECTION_ROUTES, ProtectionSim

API_URL = "https://api.github.com"
WEB_URL = "https://github.com"
BLOB_HOST = "https://blob.example.net"


def _sha(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode(), usedforsecurity=False).hexdigest()


def blob_sha(content: str) -> str:
    """Git's blob sha, as GitHub reports it for a file."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


@dataclass
class SimRepo:
    full_name: str
    refs: dict[str, str] = field(default_factory=dict)
    forks: dict[str, str] = field(default_factory=dict)  # branch -> commit it was created at
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


class GitHubSim(ProtectionSim):
    def __init__(self, *, now: Callable[[], datetime] | None = None, return_run_details: bool = True) -> None:
        self._init_protection()
        self.now = now or (lambda: datetime.now(UTC))
        self.return_run_details = return_run_details
        self.repos: dict[str, SimRepo] = {}
        self.commits: dict[str, dict[str, Any]] = {}
        self.trees: dict[str, dict[str, str]] = {}
        self.blobs: dict[int, bytes] = {}
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status)
        self._ids = itertools.count(1)
        self._numbers = itertools.count(11)
        self._runs = itertools.count(70_000_001)

    # -- state helpers --------------------------------------------------------------------------

    def repo(self, full_name: str) -> SimRepo:
        if full_name not in self.repos:
            repo = SimRepo(full_name)
            tree = self._tree({"README.md": "infra\n"})
            repo.refs["main"] = self._commit(tree, [], "initial commit")
            self.repos[full_name] = repo
        return self.repos[full_name]

    def _tree(self, files: dict[str, str]) -> str:
        sha = _sha("tree", sorted(files.items()))
        self.trees[sha] = dict(files)
        return sha

    def _commit(self, tree: str, parents: list[str], message: str) -> str:
        sha = _sha("commit", tree, parents, message, len(self.commits))
        self.commits[sha] = {"tree": tree, "parents": list(parents), "message": message}
        return sha

    def files(self, full_name: str, branch: str) -> dict[str, str]:
        return dict(self.trees[self.commits[self.repo(full_name).refs[branch]]["tree"]])

    def push(self, full_name: str, branch: str, files: dict[str, str]) -> str:
        repo = self.repo(full_name)
        parent = repo.refs[branch]
        tree = self._tree({**self.trees[self.commits[parent]["tree"]], **files})
        repo.refs[branch] = sha = self._commit(tree, [parent], "push")
        return sha

    def runs(self, full_name: str, workflow: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.repo(full_name).runs.values() if workflow is None or r["path"].endswith(workflow)]

    def set_run(self, full_name: str, run_id: int, status: str, conclusion: str | None = None) -> dict[str, Any]:
        run = self.repo(full_name).runs[run_id]
        run.update(status=status, conclusion=conclusion, updated_at=_iso(self.now()))
        return run

    def add_artifact(self, full_name: str, run_id: int, name: str, member: str, doc: dict[str, Any]) -> None:
        self.add_artifact_files(full_name, run_id, name, {member: json.dumps(doc).encode()})

    def add_artifact_files(self, full_name: str, run_id: int, name: str, members: dict[str, bytes]) -> None:
        """An artifact zipped as upload-artifact zips it (its files at the zip's root)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():
                zf.writestr(member, data)
        self.add_artifact_bytes(full_name, run_id, name, buffer.getvalue())

    def add_artifact_bytes(self, full_name: str, run_id: int, name: str, archive: bytes) -> None:
        artifact_id = next(self._ids)
        self.blobs[artifact_id] = archive
        self.repo(full_name).artifacts.setdefault(run_id, []).append(
            {
                "id": artifact_id,
                "name": name,
                "expired": False,
                "size_in_bytes": len(self.blobs[artifact_id]),
                "created_at": _iso(self.now()),
                "archive_download_url": f"{API_URL}/repos/{full_name}/actions/artifacts/{artifact_id}/zip",
            }
        )

    def add_review(self, full_name: str, number: int, login: str, state: str = "APPROVED") -> dict[str, Any]:
        repo = self.repo(full_name)
        review = {
            "id": next(self._ids),
            "user": {"login": login, "id": 7},
            "body": "",
            "state": state,
            "commit_id": self._pull(repo, number)["head"]["sha"],
            "submitted_at": _iso(self.now()),
            "html_url": f"{WEB_URL}/{full_name}/pull/{number}",
        }
        repo.reviews.setdefault(number, []).append(review)
        return review

    # -- JSON shapes ----------------------------------------------------------------------------

    def _pull(self, repo: SimRepo, number: int) -> dict[str, Any]:
        pr = repo.pulls[number]
        head_sha = repo.refs.get(pr["head"]["ref"], pr["head"]["sha"])
        if pr["state"] == "open":
            pr["head"]["sha"] = head_sha
        pr["base"]["sha"] = repo.refs.get(pr["base"]["ref"], pr["base"]["sha"])
        if pr["state"] == "open":
            reviews = repo.reviews.get(number, [])
            self.dismiss_stale(repo.full_name, pr, reviews)
            if self._conflicts(repo, pr):
                pr["mergeable_state"] = "dirty"
            else:
                pr["mergeable_state"] = "blocked" if self.merge_refusal(repo.full_name, pr, reviews) else "clean"
        return pr

    def _reachable(self, sha: str, start: str) -> bool:
        """Whether ``sha`` is ``start`` or one of its ancestors."""
        todo, seen = [start], set()
        while todo:
            current = todo.pop()
            if current == sha:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(self.commits[current]["parents"])
        return False

    def _conflicts(self, repo: SimRepo, pr: dict[str, Any]) -> bool:
        """Whether the PR's branch and its base changed a file differently since the fork."""
        head, base = pr["head"]["sha"], pr["base"]["sha"]
        fork = repo.forks.get(pr["head"]["ref"], base)
        before, ours, theirs = (self.trees[self.commits[c]["tree"]] for c in (fork, head, base))
        return diverged(before, ours, theirs)

    def _ref(self, repo: SimRepo, branch: str) -> dict[str, Any]:
        sha = repo.refs[branch]
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": "REF",
            "url": f"{API_URL}/repos/{repo.full_name}/git/refs/heads/{branch}",
            "object": {"type": "commit", "sha": sha, "url": f"{API_URL}/repos/{repo.full_name}/git/commits/{sha}"},
        }

    def _commit_json(self, repo: SimRepo, sha: str) -> dict[str, Any]:
        data = self.commits[sha]
        return {
            "sha": sha,
            "node_id": "C",
            "url": f"{API_URL}/repos/{repo.full_name}/git/commits/{sha}",
            "html_url": f"{WEB_URL}/{repo.full_name}/commit/{sha}",
            "message": data["message"],
            "tree": {"sha": data["tree"], "url": ""},
            "parents": [{"sha": p, "url": "", "html_url": ""} for p in data["parents"]],
        }

    # -- the HTTP handler -----------------------------------------------------------------------

    ROUTES: tuple[tuple[str, str, str], ...] = (
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/ref/heads/(?P<b>.+)", "get_ref"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/refs", "create_ref"),
        ("PATCH", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/refs/heads/(?P<b>.+)", "update_ref"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/commits/(?P<sha>\w+)", "get_commit"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/contents/(?P<p>.+)", "get_content"),
        ("PUT", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/contents/(?P<p>.+)", "put_content"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/trees", "create_tree"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/commits", "create_commit"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls", "list_pulls"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls", "create_pull"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)", "get_pull"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/reviews", "list_reviews"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/reviews", "create_review"),
        ("PUT", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/merge", "merge"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/(?P<n>\d+)/labels", "add_labels"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/(?P<n>\d+)/comments", "comment"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/actions/workflows/(?P<wf>[^/]+)/dispatches", "dispatch"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/actions/workflows/(?P<wf>[^/]+)/runs", "list_runs"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/actions/runs/(?P<id>\d+)", "get_run"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/actions/runs/(?P<id>\d+)/artifacts", "list_artifacts"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/actions/runs/(?P<id>\d+)/jobs", "list_jobs"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/actions/artifacts/(?P<id>\d+)/zip", "download_artifact"),
        *PROTECTION_ROUTES,
    )

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if f"{url.scheme}://{url.host}" == BLOB_HOST:
            blob = self.blobs.get(int(url.path.rsplit("/", 1)[-1].removesuffix(".zip")))
            return httpx.Response(200 if blob else 404, content=blob or b"")
        path = url.raw_path.decode().split("?", 1)[0]
        query = dict(parse_qsl(url.query.decode()))
        body = json.loads(request.content) if request.content else {}
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                params = match.groupdict()
                repo = self.repo(f"{params.pop('o')}/{params.pop('r')}")
                self.calling = self.caller(request.headers.get("authorization"))
                status, data, headers = getattr(self, "_" + name)(repo, query=query, body=body, **params)
                response = self._respond(request, status, data, headers)
                self.seen.append((request.method, path, response.status_code))
                return response
        self.seen.append((request.method, path, 404))
        return httpx.Response(404, json={"message": "Not Found"})

    def _respond(
        self, request: httpx.Request, status: int, data: Any, headers: dict[str, str] | None
    ) -> httpx.Response:
        headers = {
            "x-github-request-id": "SIM:1",
            "x-ratelimit-remaining": "4999",
            # GitHub dates every answer; the host dates a dispatch by it (the sim's clock, not ours).
            "date": format_datetime(self.now().astimezone(UTC), usegmt=True),
            **(headers or {}),
        }
        if data is None:
            return httpx.Response(status, headers=headers)
        raw = json.dumps(data, sort_keys=True).encode()
        if request.method == "GET" and status == 200:
            etag = '"' + hashlib.sha1(raw, usedforsecurity=False).hexdigest() + '"'
            headers["etag"] = etag
            if request.headers.get("if-none-match") == etag:
                return httpx.Response(304, headers=headers)
        return httpx.Response(status, content=raw, headers={**headers, "content-type": "application/json"})

    # -- operations -----------------------------------------------------------------------------

    def _get_ref(self, repo: SimRepo, *, b: str, **_: Any) -> tuple[int, Any, None]:
        if b not in repo.refs:
            return 404, {"message": "Not Found"}, None
        return 200, self._ref(repo, b), None

    def _create_ref(self, repo: SimRepo, *, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        branch = body["ref"].removeprefix("refs/heads/")
        if branch in repo.refs:
            return 422, {"message": "Reference already exists"}, None
        if body["sha"] not in self.commits:
            return 422, {"message": "Object does not exist"}, None
        repo.refs[branch] = repo.forks[branch] = body["sha"]
        return 201, self._ref(repo, branch), None

    def _update_ref(self, repo: SimRepo, *, b: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        new = body["sha"]
        if b not in repo.refs:
            return 422, {"message": "Reference does not exist"}, None
        if not body.get("force") and repo.refs[b] not in self.commits[new]["parents"]:
            return 422, {"message": "Update is not a fast forward"}, None
        repo.refs[b] = new
        return 200, self._ref(repo, b), None

    def _get_commit(self, repo: SimRepo, *, sha: str, **_: Any) -> tuple[int, Any, None]:
        if sha not in self.commits:
            return 404, {"message": "Not Found"}, None
        return 200, self._commit_json(repo, sha), None

    def _content_json(self, repo: SimRepo, path: str, content: str, ref: str) -> dict[str, Any]:
        sha = blob_sha(content)
        encoded = base64.b64encode(content.encode()).decode()
        api = f"{API_URL}/repos/{repo.full_name}/contents/{path}?ref={ref}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(content.encode()),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            # GitHub wraps the base64 text every 60 characters.
            "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n",
            "sha": sha,
            "url": api,
            "git_url": f"{API_URL}/repos/{repo.full_name}/git/blobs/{sha}",
            "html_url": f"{WEB_URL}/{repo.full_name}/blob/{ref}/{path}",
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}",
            "_links": {"self": api, "git": "", "html": ""},
        }

    def _get_content(self, repo: SimRepo, *, p: str, query: dict[str, str], **_: Any) -> tuple[int, Any, None]:
        path = unquote(p)
        ref = query.get("ref", "main")
        commit = repo.refs.get(ref) or (ref if ref in self.commits else None)
        if commit is None:
            return 404, {"message": f"No commit found for the ref {ref}"}, None
        files = self.trees[self.commits[commit]["tree"]]
        if path not in files:
            if any(f.startswith(path + "/") for f in files):
                return 200, [{"type": "dir", "path": path}], None
            return 404, {"message": "Not Found"}, None
        return 200, self._content_json(repo, path, files[path], ref), None

    def _put_content(self, repo: SimRepo, *, p: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        path = unquote(p)
        branch = body.get("branch") or "main"
        if branch not in repo.refs:
            return 404, {"message": f"Branch {branch} not found"}, None
        parent = repo.refs[branch]
        files = dict(self.trees[self.commits[parent]["tree"]])
        current = files.get(path)
        given = body.get("sha")
        if current is not None and not given:
            return 422, {"message": 'Invalid request.\n\n"sha" wasn\'t supplied.', "status": "422"}, None
        if given and (current is None or blob_sha(current) != given):
            return 409, {"message": f"{path} does not match {given}", "status": "409"}, None
        files[path] = base64.b64decode(body["content"]).decode()
        # Like GitHub, an unchanged file still makes a (content-less) commit.
        repo.refs[branch] = sha = self._commit(self._tree(files), [parent], body["message"])
        return (
            200 if current is not None else 201,
            {"content": self._content_json(repo, path, files[path], branch), "commit": self._commit_json(repo, sha)},
            None,
        )

    def _create_tree(self, repo: SimRepo, *, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        files = dict(self.trees.get(body.get("base_tree") or "", {}))
        for entry in body["tree"]:
            if entry.get("content") is None and "sha" in entry and entry["sha"] is None:
                files.pop(entry["path"], None)
            else:
                files[entry["path"]] = entry["content"]
        sha = self._tree(files)
        return 201, {"sha": sha, "url": "", "tree": [], "truncated": False}, None

    def _create_commit(self, repo: SimRepo, *, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        sha = self._commit(body["tree"], body["parents"], body["message"])
        return 201, self._commit_json(repo, sha), None

    def _list_pulls(self, repo: SimRepo, *, query: dict[str, str], **_: Any) -> tuple[int, Any, None]:
        head = query.get("head", "").split(":", 1)[-1]
        state = query.get("state", "open")
        found = [
            self._pull(repo, n)
            for n, pr in sorted(repo.pulls.items(), reverse=True)
            if pr["head"]["ref"] == head and (state == "all" or pr["state"] == state)
        ]
        return 200, found, None

    def _create_pull(self, repo: SimRepo, *, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        head, base = body["head"], body["base"]
        if any(p["head"]["ref"] == head and p["state"] == "open" for p in repo.pulls.values()):
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"message": f"A pull request already exists for acme:{head}."}],
                },
                None,
            )
        for field_name, branch in (("head", head), ("base", base)):
            if branch not in repo.refs:
                error = {"resource": "PullRequest", "field": field_name, "code": "invalid"}
                return 422, {"message": "Validation Failed", "errors": [error]}, None
        if self._reachable(repo.refs[head], repo.refs[base]):
            error = {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {head}"}
            return 422, {"message": "Validation Failed", "errors": [error]}, None
        number = next(self._numbers)
        repo.pulls[number] = {
            "number": number,
            "html_url": f"{WEB_URL}/{repo.full_name}/pull/{number}",
            "url": f"{API_URL}/repos/{repo.full_name}/pulls/{number}",
            "state": "open",
            "title": body["title"],
            "body": body.get("body"),
            "merged": False,
            "merged_at": None,
            "closed_at": None,
            "merge_commit_sha": None,
            "mergeable_state": "clean",
            "user": {
                "login": self.calling or self.app_login,
                "type": "User" if self.calling in self.logins.values() else "Bot",
            },
            "labels": [],
            "head": {
                "ref": head,
                "sha": repo.refs[head],
                "label": f"acme:{head}",
                "repo": {"full_name": repo.full_name},
            },
            "base": {
                "ref": base,
                "sha": repo.refs[base],
                "label": f"acme:{base}",
                "repo": {"full_name": repo.full_name},
            },
        }
        return 201, self._pull(repo, number), None

    def _get_pull(self, repo: SimRepo, *, n: str, **_: Any) -> tuple[int, Any, None]:
        if int(n) not in repo.pulls:
            return 404, {"message": "Not Found"}, None
        return 200, self._pull(repo, int(n)), None

    def _list_reviews(self, repo: SimRepo, *, n: str, **_: Any) -> tuple[int, Any, None]:
        return 200, list(repo.reviews.get(int(n), [])), None

    def _create_review(self, repo: SimRepo, *, n: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        pr = self._pull(repo, int(n))
        if pr["state"] != "open":
            return 422, {"message": "Unprocessable Entity", "errors": ["Can not approve a closed pull request"]}, None
        reviewer = self.calling or "tfpilot-approver"
        if reviewer == pr["user"]["login"]:
            return 422, {"message": "Unprocessable Entity", "errors": ["Can not approve your own pull request"]}, None
        review = {
            "id": next(self._ids),
            "user": {"login": reviewer, "id": 9},
            "body": body.get("body", ""),
            "state": "APPROVED",
            "commit_id": body.get("commit_id"),
            "submitted_at": _iso(self.now()),
            "html_url": "",
        }
        repo.reviews.setdefault(int(n), []).append(review)
        return 200, review, None

    def _add_labels(self, repo: SimRepo, *, n: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        pr = repo.pulls[int(n)]
        for label in body["labels"]:
            pr["labels"].append({"id": next(self._ids), "name": label})
        return 200, pr["labels"], None

    def _comment(self, repo: SimRepo, *, n: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        repo.comments.setdefault(int(n), []).append(body["body"])
        return 201, {"id": next(self._ids), "body": body["body"]}, None

    def _merge(self, repo: SimRepo, *, n: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        pr = self._pull(repo, int(n))
        if pr["merged"] or pr["state"] != "open" or pr["mergeable_state"] == "dirty":
            return 405, {"message": "Pull Request is not mergeable"}, None
        head = pr["head"]["sha"]
        if body.get("sha") and body["sha"] != head:
            return 409, {"message": "Head branch was modified. Review and try the merge again."}, None
        refusal = self.merge_refusal(repo.full_name, pr, repo.reviews.get(int(n), []))
        if refusal is not None:
            return (
                405,
                {"message": refusal, "documentation_url": "https://docs.github.com/articles/about-protected-branches"},
                None,
            )
        fork = repo.forks.get(pr["head"]["ref"], repo.refs[pr["base"]["ref"]])
        before, after = self.trees[self.commits[fork]["tree"]], self.trees[self.commits[head]["tree"]]
        base_head = repo.refs[pr["base"]["ref"]]
        files = dict(self.trees[self.commits[base_head]["tree"]])
        files.update({p: c for p, c in after.items() if before.get(p) != c})
        for gone in set(before) - set(after):
            files.pop(gone, None)
        merged = self._commit(self._tree(files), [base_head], body.get("commit_title") or "merge")
        repo.refs[pr["base"]["ref"]] = merged
        now = _iso(self.now())
        pr.update(merged=True, state="closed", merge_commit_sha=merged, merged_at=now, closed_at=now)
        return 200, {"sha": merged, "merged": True, "message": "Pull Request successfully merged"}, None

    def _dispatch(self, repo: SimRepo, *, wf: str, body: dict[str, Any], **_: Any) -> tuple[int, Any, None]:
        ref = body["ref"]
        if ref not in repo.refs:
            return 422, {"message": f"No ref found for: {ref}"}, None
        if body.get("return_run_details") and not self.return_run_details:
            # An older server refuses the unknown field before dispatching anything.
            return 422, {"message": "Invalid request. 'return_run_details' is not a permitted key."}, None
        inputs = body.get("inputs") or {}
        run_id = next(self._runs)
        now = _iso(self.now())
        kind = wf.removesuffix(".yml")
        repo.runs[run_id] = {
            "id": run_id,
            "name": kind.capitalize(),
            "display_title": f"{kind} {inputs.get('request_id', '')} {inputs.get('environment', '')}".strip(),
            "status": "queued",
            "conclusion": None,
            "head_branch": ref,
            "head_sha": repo.refs[ref],
            "path": f".github/workflows/{wf}",
            "event": "workflow_dispatch",
            "html_url": f"{WEB_URL}/{repo.full_name}/actions/runs/{run_id}",
            "created_at": now,
            "updated_at": now,
            "run_attempt": 1,
            "head_repository": {"full_name": repo.full_name},
        }
        if kind == "cleanup":
            self._cleanup_workflow(repo, ref, inputs)
        if self.return_run_details and body.get("return_run_details"):
            return (
                200,
                {
                    "workflow_run_id": run_id,
                    "run_url": f"{API_URL}/repos/{repo.full_name}/actions/runs/{run_id}",
                    "html_url": repo.runs[run_id]["html_url"],
                },
                None,
            )
        return 204, None, None

    def _cleanup_workflow(self, repo: SimRepo, base: str, inputs: dict[str, Any]) -> None:
        rid, env = inputs.get("request_id", ""), inputs.get("environment", "")
        branch, path = f"cleanup/{rid}", f"envs/{env}/tfpilot_{rid}.tf"
        if any(p["head"]["ref"] == branch and p["state"] == "open" for p in repo.pulls.values()):
            return
        start = repo.refs[base]
        files = dict(self.trees[self.commits[start]["tree"]])
        if files.pop(path, None) is None:
            return
        repo.refs[branch] = self._commit(self._tree(files), [start], f"tfpilot: remove {rid} from {env}")
        repo.forks[branch] = start
        # The workflow opens the PR with its GITHUB_TOKEN: github-actions[bot] is its author.
        self.calling = "github-actions[bot]"
        self._create_pull(
            repo,
            body={
                "head": branch,
                "base": base,
                "title": f"tfpilot: remove {rid} ({env})",
                "body": f"Removes `{path}` for TfPilot request `{rid}` (destroy).",
            },
        )

    def cleanup_pr(self, full_name: str, request_id: str) -> int | None:
        found = [n for n, p in self.repo(full_name).pulls.items() if p["head"]["ref"] == f"cleanup/{request_id}"]
        return max(found) if found else None

    def _list_runs(self, repo: SimRepo, *, wf: str, query: dict[str, str], **_: Any) -> tuple[int, Any, None]:
        runs = [
            r
            for r in sorted(repo.runs.values(), key=lambda r: -r["id"])
            if r["path"].endswith("/" + wf) and (not query.get("branch") or r["head_branch"] == query["branch"])
        ]
        return 200, {"total_count": len(runs), "workflow_runs": runs[: int(query.get("per_page", 30))]}, None

    def _get_run(self, repo: SimRepo, *, id: str, **_: Any) -> tuple[int, Any, None]:
        run = repo.runs.get(int(id))
        return (200, run, None) if run else (404, {"message": "Not Found"}, None)

    def _list_artifacts(self, repo: SimRepo, *, id: str, query: dict[str, str], **_: Any) -> tuple[int, Any, None]:
        items = [a for a in repo.artifacts.get(int(id), []) if not query.get("name") or a["name"] == query["name"]]
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        return 200, {"total_count": len(items), "artifacts": items[(page - 1) * per_page : page * per_page]}, None

    def set_jobs(self, full_name: str, run_id: int, jobs: list[dict[str, Any]]) -> None:
        """The run's jobs as ``GET .../runs/{run_id}/jobs`` lists them (``job`` documents)."""
        self.repo(full_name).jobs[run_id] = copy.deepcopy(jobs)

    def _list_jobs(self, repo: SimRepo, *, id: str, query: dict[str, str], **_: Any) -> tuple[int, Any, None]:
        run = repo.runs.get(int(id))
        if run is None:
            return 404, {"message": "Not Found"}, None
        jobs = repo.jobs.get(int(id))
        if jobs is None:  # one job named after the workflow, as the run ended, without steps
            jobs = [
                {
                    "id": int(id) * 10,
                    "run_id": int(id),
                    "name": run["path"].rsplit("/", 1)[-1].removesuffix(".yml"),
                    "html_url": f"{run['html_url']}/job/{int(id) * 10}",
                    "status": run["status"],
                    "conclusion": run["conclusion"],
                    "steps": [],
                }
            ]
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        return 200, {"total_count": len(jobs), "jobs": jobs[(page - 1) * per_page : page * per_page]}, None

    def _download_artifact(self, repo: SimRepo, *, id: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 302, None, {"location": f"{BLOB_HOST}/artifacts/{id}.zip?sig=secret"}

    # -- webhooks -------------------------------------------------------------------------------

    def workflow_run_delivery(self, full_name: str, run_id: int) -> tuple[str, dict[str, Any]]:
        run = copy.deepcopy(self.repo(full_name).runs[run_id])
        fixture = deliveries.RUN_FIXTURES.get(run["status"], deliveries.RUN_FIXTURES["requested"])
        payload = deliveries.load(fixture)
        payload["action"] = {"queued": "requested"}.get(run["status"], run["status"])
        payload["workflow_run"].update(run)
        payload["workflow_run"]["repository"] = {
            **payload["workflow_run"].get("repository", {}),
            "full_name": full_name,
        }
        if isinstance(payload.get("workflow"), dict):
            payload["workflow"]["path"] = run["path"]
        payload["repository"] = {**payload.get("repository", {}), "full_name": full_name}
        return "workflow_run", payload

    def pull_request_delivery(self, full_name: str, number: int, action: str) -> tuple[str, dict[str, Any]]:
        repo = self.repo(full_name)
        payload = deliveries.load(deliveries.PR_FIXTURES[action])
        payload["action"] = action
        payload["number"] = number
        payload["pull_request"] = copy.deepcopy(self._pull(repo, number))
        payload["repository"] = {**payload.get("repository", {}), "full_name": full_name}
        return "pull_request", payload

    def review_delivery(self, full_name: str, number: int, review: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        repo = self.repo(full_name)
        payload = deliveries.load(deliveries.REVIEW_FIXTURES["submitted"])
        payload["review"] = {**copy.deepcopy(review), "state": review["state"].lower()}
        pr = copy.deepcopy(self._pull(repo, number))
        pr.pop("merged", None)
        payload["pull_request"] = pr
        payload["repository"] = {**payload.get("repository", {}), "full_name": full_name}
        return "pull_request_review", payload

    def request_of_run(self, full_name: str, run_id: int) -> str | None:
        return request_id_in_text(self.repo(full_name).runs[run_id]["display_title"])
