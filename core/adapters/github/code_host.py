"""``GitHubCodeHost``: the ``CodeHost`` port over GitHub's REST API.

Every operation is safe to repeat after a crash, as the port promises: creating a branch or a
PR that exists returns the existing one, a commit whose earlier attempt already landed is
recognised instead of repeated, merging a merged PR returns its result. A commit that writes one
file (the normal case: one file per request) is one ``PUT .../contents/{path}``; deletions and
multi-file commits use the git data API (a tree with inline contents on the parent's tree, a
commit, a fast-forward-only ref update), so one request's files always land in one commit.
Workflows are dispatched with ``return_run_details``; where the server refuses the field the run
is found by the request id in its run-name. A run's jobs say where a failed run failed; its
artifacts are listed once for its plan and its cost, and hold its report (``RunReports``: an
apply's outputs, a failed run's diagnostics). Calls go through ``GitHubClient`` (retries, rate
limits, ETags).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from core.adapters.github import artifacts, contents, mapping, protection
from core.adapters.github.client import RETRYABLE_STATUSES, GitHubApiError, GitHubClient
from core.domain.run_report import RunReport
from core.ports.code_host import (
    BranchProtection,
    CodeHost,
    CodeHostError,
    JobInfo,
    MergeBlocked,
    MergeBlockReason,
    MergeResult,
    PullRequestInfo,
    RepoRef,
    ReviewInfo,
    RunInfo,
    RunJobs,
    RunReports,
)

LOG = logging.getLogger("tfpilot.github")

FILE_MODE = "100644"
MAX_TREE_CACHE = 1024
MAX_BLOB_MEMO = 1024
MAX_ARTIFACT_LISTINGS = 256
ARTIFACT_PAGE = 100
MAX_ARTIFACT_PAGES = 5
JOB_PAGE = 100
MAX_JOB_PAGES = 3
# The answers a sync keeps for its reads (``remembering``): per thread/context, never shared.
_READS: ContextVar[MutableMapping[str, Any] | None] = ContextVar("tfpilot_github_reads", default=None)
# GitHub's merge refusals for missing reviews ("At least 1 approving review is required by
# reviewers with write access.", "Changes requested", "Review required"); "Base branch was
# modified. Review and try the merge again." is a transient one and must not match.
_REVIEW_REFUSALS = (
    "approving review",
    "review is required",
    "reviews are required",
    "changes requested",
    "review required",
)
# Tolerance between GitHub's Date header (1 s resolution) and a dispatched run's created_at.
DISPATCH_CLOCK_SLACK = timedelta(seconds=2)
LOCAL_CLOCK_SLACK = timedelta(seconds=60)


class GitHubCodeHost:
    """``CodeHost`` on GitHub. ``web_url`` builds links GitHub did not return (Enterprise:
    ``https://ghe.example.com``)."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        web_url: str = "https://github.com",
        max_artifact_bytes: int = 64 * 1024 * 1024,
        max_json_bytes: int = 64 * 1024 * 1024,
        dispatch_find_attempts: int = 5,
        dispatch_poll_seconds: float = 2.0,
        merge_attempts: int = 5,
        update_branch_polls: int = 5,
        runs_per_page: int = 50,
        artifact_listing_ttl: float = 600.0,
        protection_ttl: float = 300.0,
        app_slug: str | None = None,
    ) -> None:
        self.client = client
        self.web_url = web_url.rstrip("/")
        self.max_artifact_bytes = max_artifact_bytes
        self.max_json_bytes = max_json_bytes
        self.dispatch_find_attempts = dispatch_find_attempts
        self.dispatch_poll_seconds = dispatch_poll_seconds
        self.merge_attempts = merge_attempts
        self.update_branch_polls = update_branch_polls
        self.runs_per_page = runs_per_page
        # Commit objects are immutable: remember commit -> tree to skip re-reading them, and
        # the blob each of our commits holds at a path to replace it without reading it first.
        self._trees: dict[str, str] = {}
        self._blobs = contents.BlobMemo(MAX_BLOB_MEMO)
        # One listing serves a run's plan and cost artifacts.
        self._listings = artifacts.ListingCache(MAX_ARTIFACT_LISTINGS, artifact_listing_ttl)
        # A base branch's protection, read once a while (approvals ask for it, it rarely changes).
        self._protection = protection.ProtectionCache(protection_ttl)
        # The App's slug names it in classic protection's bypass allowances (None: a token).
        self.app_slug = app_slug
        # None until a dispatch tells us whether the server accepts return_run_details.
        self.run_details_supported: bool | None = None

    def __repr__(self) -> str:
        return f"GitHubCodeHost(api={self.client.base_url!r})"

    # --- branches and commits ----------------------------------------------------------------
    def branch_head(self, repo: RepoRef, branch: str) -> str | None:
        mapping.check_repo(repo)
        mapping.check_branch(branch)
        try:
            response = self.client.get(
                "/repos/{owner}/{repo}/git/ref/{ref}", path=_repo_path(repo, ref=f"heads/{branch}")
            )
        except GitHubApiError as exc:
            if exc.status == 404:
                return None
            raise
        return _ref_sha(response.data)

    def create_branch(self, repo: RepoRef, branch: str, from_sha: str) -> str:
        mapping.check_repo(repo)
        mapping.check_branch(branch)
        try:
            response = self.client.post(
                "/repos/{owner}/{repo}/git/refs",
                path=_repo_path(repo),
                json={"ref": f"refs/heads/{branch}", "sha": from_sha},
            )
        except GitHubApiError as exc:
            if exc.status == 422 and exc.mentions("already exists"):
                head = self.branch_head(repo, branch)
                if head is not None:
                    return head
            raise
        return _ref_sha(response.data)

    def reset_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        mapping.check_repo(repo)
        mapping.check_branch(branch)
        if self.create_branch(repo, branch, sha) == sha:
            return
        self.client.patch(
            "/repos/{owner}/{repo}/git/refs/{ref}",
            path=_repo_path(repo, ref=f"heads/{branch}"),
            json={"sha": sha, "force": True},
        )

    def commit_files(
        self,
        repo: RepoRef,
        branch: str,
        files: Mapping[str, str | None],
        message: str,
        *,
        parent_sha: str,
    ) -> str:
        """One commit on ``branch`` writing ``files`` on top of ``parent_sha``.

        One file with content is one ``PUT .../contents/{path}``. Its guard is the file's blob
        sha at ``parent_sha``, not the branch head: GitHub replaces the file only while it still
        is the blob we name (our own previous commit's blob when ``parent_sha`` is a commit this
        host wrote, else the blob read with ``GET .../contents/{path}?ref=<parent_sha>`` after
        GitHub said the file exists), so the write is a compare-and-swap on the file as the
        caller saw it, and it commits on whatever the branch head is then. A push of *other*
        files since ``parent_sha`` does not stop the write; the new commit's parents are checked
        afterwards and a warning names both shas when the parent is not ``parent_sha``. A change
        of the file itself since ``parent_sha`` (including adding it) is a ``CodeHostError``
        (409). A retry whose earlier attempt landed (the branch holds our exact blob and its
        head's only parent is ``parent_sha``) returns that head.

        Deletions and several files go through the git data API, which fast-forwards the ref
        from ``parent_sha`` only and so raises when the branch head moved.
        """
        mapping.check_repo(repo)
        mapping.check_branch(branch)
        if not files:
            raise CodeHostError("commit_files needs at least one file")
        for path in files:
            mapping.check_file_path(path)
        if len(files) == 1:
            ((path, content),) = files.items()
            if content is not None:
                return self._put_file(repo, branch, path, content, message, parent_sha=parent_sha)
        return self._commit_tree(repo, branch, files, message, parent_sha=parent_sha)

    # --- one file: the contents API ----------------------------------------------------------
    def _put_file(self, repo: RepoRef, branch: str, path: str, content: str, message: str, *, parent_sha: str) -> str:
        ours = contents.git_blob_sha(content)
        guard = self._blobs.get(repo.full_name, parent_sha, path)
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    data = self._put_contents(repo, branch, path, content, message, sha=guard)
                except GitHubApiError as exc:
                    if guard is not None or exc.status != 422 or not exc.mentions("sha"):
                        raise
                    # The file exists on the branch and its blob is unknown to us: read it at the
                    # commit the caller read (``parent_sha``), never at the branch head, so the PUT
                    # replaces the file only if it is still what the caller saw.
                    guard = self._file_blob(repo, parent_sha, path)
                    if guard is None:
                        # Absent at the parent, present now: our earlier attempt landed, or someone
                        # else added it. The conflict handler below tells which.
                        raise CodeHostError(
                            f"{path} was added on {branch} after {parent_sha[:12]}", status=409
                        ) from exc
                    if guard == ours:
                        landed = self._landed_file_commit(repo, branch, parent_sha)
                        if landed is not None:
                            return landed
                    data = self._put_contents(repo, branch, path, content, message, sha=guard)
            except CodeHostError as exc:
                ambiguous = exc.retryable and (exc.status is None or exc.status in RETRYABLE_STATUSES)
                if exc.status == 409 or ambiguous:
                    # A conflict on the file, or a write that may have happened: what GitHub now
                    # holds may be our own write (a retry of one that landed, or this one).
                    landed = self._landed_if_ours(repo, branch, path, ours, parent_sha)
                    if landed is not None:
                        return landed
                    if ambiguous and attempt < self.client.max_attempts:
                        # GitHub shows the write did not land (a 5xx or a timeout before it was
                        # applied): trying again cannot double it.
                        self.client.pause(self.client.backoff(attempt))
                        continue
                raise _write_error(exc, path, branch, parent_sha) from exc
            return self._file_committed(repo, branch, path, data, ours, parent_sha)

    def _put_contents(
        self, repo: RepoRef, branch: str, path: str, content: str, message: str, *, sha: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message, "content": contents.encode(content), "branch": branch}
        if sha is not None:
            body["sha"] = sha
        # Never repeated blindly: a retry of a write that landed would be refused or doubled.
        response = self.client.put(
            "/repos/{owner}/{repo}/contents/{path}",
            path=_repo_path(repo, path=path),
            json=body,
            retry_ambiguous=False,
        )
        return _dict(response.data)

    def _file_committed(
        self, repo: RepoRef, branch: str, path: str, data: dict[str, Any], ours: str, parent_sha: str
    ) -> str:
        commit = _dict(data.get("commit"))
        commit_sha = _sha(commit, "commit")
        parents = [_dict(p).get("sha") for p in commit.get("parents") or []]
        if parents and parents != [parent_sha]:
            LOG.warning(
                "commit %s on %s has parent %s, not the expected %s: the branch moved before the write",
                commit_sha[:12],
                branch,
                ",".join(str(p)[:12] for p in parents),
                parent_sha[:12],
            )
        blob = _dict(data.get("content")).get("sha")
        self._blobs.put(repo.full_name, commit_sha, path, blob if isinstance(blob, str) and blob else ours)
        tree = _dict(commit.get("tree")).get("sha")
        if isinstance(tree, str) and tree:
            self._remember_tree(commit_sha, tree)
        return commit_sha

    def _file_blob(self, repo: RepoRef, ref: str, path: str) -> str | None:
        """The blob sha of ``path`` at ``ref`` (a branch or a commit sha); None when there is no
        such file."""
        try:
            response = self.client.get(
                "/repos/{owner}/{repo}/contents/{path}",
                path=_repo_path(repo, path=path),
                params={"ref": ref},
                use_cache=False,
            )
        except GitHubApiError as exc:
            if exc.status == 404:
                return None
            raise
        return contents.file_blob(response.data, path)

    def _landed_if_ours(self, repo: RepoRef, branch: str, path: str, ours: str, parent_sha: str) -> str | None:
        if self._file_blob(repo, branch, path) != ours:
            return None
        return self._landed_file_commit(repo, branch, parent_sha)

    def _landed_file_commit(self, repo: RepoRef, branch: str, parent_sha: str) -> str | None:
        """The branch head when it is a commit made right on ``parent_sha`` (the file already
        holds our content, checked by the caller): an earlier attempt of this write landed."""
        head = self.branch_head(repo, branch)
        if head is None:
            raise CodeHostError(f"branch {branch} does not exist in {repo.full_name}", status=404)
        if head == parent_sha:
            return None
        data = self._get_commit(repo, head)
        parents = [_dict(p).get("sha") for p in data.get("parents") or []]
        if parents != [parent_sha]:
            return None
        LOG.info("commit on %s already landed as %s", branch, head[:12])
        tree = _dict(data.get("tree")).get("sha")
        if isinstance(tree, str) and tree:
            self._remember_tree(head, tree)
        return head

    # --- deletions and several files: the git data API ---------------------------------------
    def _commit_tree(
        self, repo: RepoRef, branch: str, files: Mapping[str, str | None], message: str, *, parent_sha: str
    ) -> str:
        entries: list[dict[str, Any]] = []
        for path in sorted(files):
            content = files[path]
            entry: dict[str, Any] = {"path": path, "mode": FILE_MODE, "type": "blob"}
            if content is None:
                entry["sha"] = None
            else:
                entry["content"] = content
            entries.append(entry)
        base_tree = self._tree_of(repo, parent_sha)
        tree = self.client.post(
            "/repos/{owner}/{repo}/git/trees", path=_repo_path(repo), json={"base_tree": base_tree, "tree": entries}
        )
        tree_sha = _sha(tree.data, "tree")
        commit = self.client.post(
            "/repos/{owner}/{repo}/git/commits",
            path=_repo_path(repo),
            json={"message": message, "tree": tree_sha, "parents": [parent_sha]},
        )
        commit_sha = _sha(commit.data, "commit")
        self._remember_tree(commit_sha, tree_sha)
        try:
            self.client.patch(
                "/repos/{owner}/{repo}/git/refs/{ref}",
                path=_repo_path(repo, ref=f"heads/{branch}"),
                json={"sha": commit_sha, "force": False},
            )
        except GitHubApiError as exc:
            if exc.status not in (409, 422):
                raise
            commit_sha = self._landed_commit(repo, branch, parent_sha, tree_sha, exc)
        for path, content in files.items():
            if content is not None:
                self._blobs.put(repo.full_name, commit_sha, path, contents.git_blob_sha(content))
        return commit_sha

    def _landed_commit(self, repo: RepoRef, branch: str, parent_sha: str, tree_sha: str, exc: GitHubApiError) -> str:
        """The ref did not fast-forward: an earlier attempt of this very commit may have
        landed (head's only parent is ``parent_sha`` and its tree is ours); else the branch
        moved under us and the caller must re-read it."""
        head = self.branch_head(repo, branch)
        if head is None:
            raise CodeHostError(f"branch {branch} does not exist in {repo.full_name}", status=404) from exc
        if head != parent_sha:
            data = self._get_commit(repo, head)
            parents = [_dict(p).get("sha") for p in data.get("parents") or []]
            if parents == [parent_sha] and _dict(data.get("tree")).get("sha") == tree_sha:
                LOG.info("commit on %s already landed as %s", branch, head[:12])
                return head
            raise CodeHostError(
                f"branch {branch} moved: its head is {head[:12]}, not the expected parent {parent_sha[:12]}",
                status=409,
            ) from exc
        raise CodeHostError(
            f"could not update branch {branch}: {exc.github_message or exc}", status=exc.status
        ) from exc

    def _tree_of(self, repo: RepoRef, commit_sha: str) -> str:
        cached = self._trees.get(commit_sha)
        if cached is not None:
            return cached
        tree_sha = _sha(self._get_commit(repo, commit_sha).get("tree"), "tree of commit")
        self._remember_tree(commit_sha, tree_sha)
        return tree_sha

    def _get_commit(self, repo: RepoRef, sha: str) -> dict[str, Any]:
        try:
            response = self.client.get(
                "/repos/{owner}/{repo}/git/commits/{commit_sha}", path=_repo_path(repo, commit_sha=sha)
            )
        except GitHubApiError as exc:
            if exc.status == 404:
                raise CodeHostError(f"commit {sha[:12]} not found in {repo.full_name}", status=404) from exc
            raise
        return _dict(response.data)

    def _remember_tree(self, commit_sha: str, tree_sha: str) -> None:
        if len(self._trees) >= MAX_TREE_CACHE:
            self._trees.pop(next(iter(self._trees)))
        self._trees[commit_sha] = tree_sha

    # --- pull requests -----------------------------------------------------------------------
    def find_pull_request(self, repo: RepoRef, head_branch: str) -> PullRequestInfo | None:
        found = self._pulls_for(repo, head_branch, state="all")
        return mapping.pull_request(found[0]) if found else None

    def _pulls_for(self, repo: RepoRef, head_branch: str, *, state: str) -> list[dict[str, Any]]:
        """Raw PR documents whose head is ``head_branch`` in ``repo``, newest first."""
        mapping.check_repo(repo)
        mapping.check_branch(head_branch)
        response = self.client.get(
            "/repos/{owner}/{repo}/pulls",
            path=_repo_path(repo),
            params={
                "head": f"{repo.owner}:{head_branch}",
                "state": state,
                "sort": "created",
                "direction": "desc",
                "per_page": 10,
            },
        )
        items = response.data if isinstance(response.data, list) else []
        pulls = [item for item in items if isinstance(item, dict) and isinstance(item.get("number"), int)]
        return sorted(pulls, key=lambda p: int(p["number"]), reverse=True)

    def open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> PullRequestInfo:
        mapping.check_repo(repo)
        mapping.check_branch(head)
        mapping.check_branch(base)
        try:
            response = self.client.post(
                "/repos/{owner}/{repo}/pulls",
                path=_repo_path(repo),
                json={"title": title, "head": head, "base": base, "body": body},
            )
            pr_data = _dict(response.data)
        except GitHubApiError as exc:
            if not (exc.status == 422 and exc.mentions("already exists")):
                raise
            open_prs = self._pulls_for(repo, head, state="open")
            if not open_prs:
                raise
            pr_data = open_prs[0]
            LOG.info("pull request for %s already open: #%s", head, pr_data["number"])
        present = {str(_dict(label).get("name")) for label in pr_data.get("labels") or []}
        pr = mapping.pull_request(pr_data)
        missing = [label for label in dict.fromkeys(labels) if label and label not in present]
        if missing:
            self._add_labels(repo, pr.number, missing)
        return pr

    def _add_labels(self, repo: RepoRef, number: int, labels: list[str]) -> None:
        try:
            self.client.post(
                "/repos/{owner}/{repo}/issues/{issue_number}/labels",
                path=_repo_path(repo, issue_number=number),
                json={"labels": labels},
            )
        except GitHubApiError as exc:
            if exc.retryable:
                raise
            # Labels are a convenience: a missing permission must not undo an opened PR.
            LOG.warning("could not label PR #%s in %s: %s", number, repo.full_name, exc.github_message or exc)

    @contextmanager
    def remembering(self, reads: MutableMapping[str, Any]) -> Iterator[None]:
        """Reads of PRs, reviews and runs in this block revalidate the answers kept in ``reads``
        (see ``RemembersReads``); the block's thread only, so concurrent syncs never mix."""
        token = _READS.set(reads)
        try:
            yield
        finally:
            _READS.reset(token)

    def _remembered_get(
        self, key: str, template: str, path: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> tuple[bool, Any, str | None]:
        """(True, the remembered answer, None) when GitHub says it has not changed, else
        (False, the fresh data, its ETag)."""
        reads = _READS.get()
        kept = reads.get(key) if reads is not None else None
        usable = isinstance(kept, dict) and isinstance(kept.get("etag"), str) and "value" in kept
        etag = kept["etag"] if usable and isinstance(kept, dict) else None
        response = self.client.get(template, path=path, params=params, if_none_match=etag)
        if response.not_modified and usable and isinstance(kept, dict):
            return True, kept["value"], None
        fresh_etag = response.headers.get("etag")
        return False, response.data, fresh_etag if isinstance(fresh_etag, str) else None

    @staticmethod
    def _remember(key: str, etag: str | None, value: Any) -> None:
        reads = _READS.get()
        if reads is None:
            return
        if etag:
            reads[key] = {"etag": etag, "value": value}
        else:
            reads.pop(key, None)

    def get_pull_request(self, repo: RepoRef, number: int) -> PullRequestInfo:
        mapping.check_repo(repo)
        key = f"{repo.owner}/{repo.name}/pulls/{number}"
        kept, data, etag = self._remembered_get(
            key, "/repos/{owner}/{repo}/pulls/{pull_number}", _repo_path(repo, pull_number=number)
        )
        if kept:
            return PullRequestInfo.model_validate(data)
        info = mapping.pull_request(data)
        self._remember(key, etag, info.model_dump(mode="json"))
        return info

    def list_reviews(self, repo: RepoRef, number: int) -> list[ReviewInfo]:
        mapping.check_repo(repo)
        reviews: list[ReviewInfo] = []
        for page in range(1, 11):
            key = f"{repo.owner}/{repo.name}/pulls/{number}/reviews?page={page}"
            kept, data, etag = self._remembered_get(
                key,
                "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
                _repo_path(repo, pull_number=number),
                {"per_page": 100, "page": page},
            )
            if kept:
                page_reviews = [ReviewInfo.model_validate(item) for item in data]
            else:
                items = data if isinstance(data, list) else []
                page_reviews = [mapping.review(item) for item in items if isinstance(item, dict)]
                self._remember(key, etag, [review.model_dump(mode="json") for review in page_reviews])
            reviews.extend(page_reviews)
            if len(page_reviews) < 100:
                break
        return reviews

    def submit_review(
        self, repo: RepoRef, number: int, *, commit_sha: str, body: str, user_token: str | None = None
    ) -> ReviewInfo:
        mapping.check_repo(repo)
        response = self.client.post(
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            path=_repo_path(repo, pull_number=number),
            json={"commit_id": commit_sha, "body": body, "event": "APPROVE"},
            token=user_token,
            retry_ambiguous=False,
        )
        return mapping.review(response.data)

    def comment(self, repo: RepoRef, number: int, body: str) -> None:
        mapping.check_repo(repo)
        self.client.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            path=_repo_path(repo, issue_number=number),
            json={"body": body},
            retry_ambiguous=False,
        )

    # --- merge -------------------------------------------------------------------------------
    def merge_pull_request(self, repo: RepoRef, number: int, *, sha: str, title: str) -> MergeResult:
        """Squash-merge at ``sha``. A refusal is told apart: GitHub still computing
        mergeability (``unknown``/null) or a branch ``behind`` its base is retried (the branch
        brought up to date first); missing reviews, failing required checks, conflicts and rule
        violations raise ``MergeBlocked`` at once, since waiting cannot fix them."""
        mapping.check_repo(repo)
        expected = sha
        last: GitHubApiError | None = None
        state: str | None = None
        for attempt in range(1, self.merge_attempts + 1):
            try:
                response = self.client.put(
                    "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
                    path=_repo_path(repo, pull_number=number),
                    json={"sha": expected, "merge_method": "squash", "commit_title": title},
                )
            except GitHubApiError as exc:
                if exc.status not in (405, 409, 422):
                    raise
                last = exc
            else:
                data = _dict(response.data)
                return MergeResult(
                    merged=bool(data.get("merged", True)), sha=data.get("sha"), message=data.get("message")
                )
            pr = self.get_pull_request(repo, number)
            if pr.merged:
                return MergeResult(merged=True, sha=pr.merge_commit_sha, message="Pull Request already merged")
            if pr.state == "closed":
                raise CodeHostError(f"PR #{number} is closed without being merged", status=last.status) from last
            if pr.head_sha != expected:
                raise CodeHostError(
                    f"PR #{number} head changed from {expected[:12]} to {pr.head_sha[:12]}: not merging a commit "
                    "that was not approved",
                    status=409,
                ) from last
            state = pr.mergeable_state
            blocked = self._lasting_refusal(repo, pr, last)
            if blocked is not None:
                raise blocked from last
            if last.status == 422:
                raise CodeHostError(
                    f"GitHub refused to merge PR #{number}: {last.github_message}", status=422
                ) from last
            if attempt == self.merge_attempts:
                break
            if state == "behind":
                expected = self._update_branch(repo, number, expected)
            self.client.pause(self.client.backoff(attempt))
        assert last is not None
        raise CodeHostError(
            f"PR #{number} is still not mergeable after {self.merge_attempts} attempts "
            f"(mergeable_state={state}): {last.github_message}",
            status=last.status,
            retryable=True,
        ) from last

    def _lasting_refusal(self, repo: RepoRef, pr: PullRequestInfo, refused: GitHubApiError) -> MergeBlocked | None:
        """A ``MergeBlocked`` when GitHub's refusal names a reason waiting cannot fix."""
        said = refused.github_message or str(refused)
        reason: MergeBlockReason | None = None
        if any(refused.mentions(phrase) for phrase in _REVIEW_REFUSALS):
            reason = "reviews"
        elif refused.mentions("status check"):
            # 'Required status check "plan" is expected.' (not reported yet: it may pass in a
            # moment, retried) vs '... is failing.' (lasting until someone fixes it).
            if not (refused.mentions("failing") or refused.mentions("failed")):
                return None
            reason = "checks"
        elif pr.mergeable_state == "dirty" or refused.mentions("merge conflict"):
            reason = "conflict"
        elif refused.mentions("rule violation"):
            reason = "rules"
        elif pr.mergeable_state == "blocked":
            reason = "blocked"
        if reason is None:
            return None
        required = 0
        if reason in ("reviews", "blocked"):
            try:
                required = self.branch_protection(repo, pr.base_ref).required_approvals
            except CodeHostError:
                required = 0
        if reason == "conflict":
            message = f"PR #{pr.number} conflicts with {pr.base_ref}: resolve the conflict on {pr.head_ref}"
        else:
            message = f"GitHub will not merge PR #{pr.number} ({reason}): {said}"
        return MergeBlocked(message, reason=reason, status=refused.status, required_approvals=required)

    def branch_protection(self, repo: RepoRef, branch: str) -> BranchProtection:
        mapping.check_repo(repo)
        mapping.check_branch(branch)
        now = self.client.now()
        cached = self._protection.get(repo.full_name, branch, now)
        if cached is not None:
            return cached
        # Only a GitHub App's auth carries an app id; reading it by name keeps the App's JWT code
        # (PyJWT, cryptography) unimported in token mode.
        app_id = getattr(self.client.auth, "app_id", None)
        found = protection.read_protection(self.client, repo, branch, app_slug=self.app_slug, app_id=app_id)
        self._protection.put(repo.full_name, branch, now, found)
        return found

    def _update_branch(self, repo: RepoRef, number: int, head_sha: str) -> str:
        """Merge the base into a behind PR branch; returns the new head once GitHub shows it,
        after checking the new head is that update (its parents include the approved head)."""
        try:
            self.client.put(
                "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
                path=_repo_path(repo, pull_number=number),
                json={"expected_head_sha": head_sha},
            )
        except GitHubApiError as exc:
            raise CodeHostError(
                f"PR #{number} is behind its base and could not be updated: {exc.github_message or exc}",
                status=exc.status,
                retryable=exc.retryable,
            ) from exc
        for poll in range(1, self.update_branch_polls + 1):
            self.client.pause(self.client.backoff(poll))
            pr = self.get_pull_request(repo, number)
            if pr.head_sha != head_sha:
                parents = [_dict(p).get("sha") for p in self._get_commit(repo, pr.head_sha).get("parents") or []]
                if head_sha not in parents:
                    raise CodeHostError(
                        f"PR #{number} head changed to {pr.head_sha[:12]}, which is not an update of the approved "
                        f"{head_sha[:12]}",
                        status=409,
                    )
                return pr.head_sha
        return head_sha

    # --- workflows -----------------------------------------------------------------------------
    def dispatch_workflow(self, repo: RepoRef, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> RunInfo | None:
        mapping.check_repo(repo)
        path = _repo_path(repo, workflow_id=workflow)
        body: dict[str, Any] = {"ref": ref, "inputs": dict(inputs)}
        template = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
        response = None
        if self.run_details_supported is not False:
            try:
                response = self.client.post(
                    template, path=path, json={**body, "return_run_details": True}, retry_ambiguous=False
                )
            except GitHubApiError as exc:
                if exc.status not in (400, 422):
                    raise
                # Older servers reject the unknown field; a 4xx means nothing was dispatched.
                LOG.info("dispatch of %s refused return_run_details (%s); retrying without", workflow, exc.status)
        if response is None:
            response = self.client.post(template, path=path, json=body, retry_ambiguous=False)
            if self.run_details_supported is None:
                # Accepted without the field after a refusal with it: remember, save a call next time.
                self.run_details_supported = False
        data = _dict(response.data)
        run_id = data.get("workflow_run_id")
        if response.status == 200 and isinstance(run_id, int):
            self.run_details_supported = True
            return RunInfo(
                run_id=run_id,
                url=str(data.get("html_url") or f"{self.web_url}/{repo.full_name}/actions/runs/{run_id}"),
                status="queued",
                head_branch=ref,
                workflow=workflow,
                event="workflow_dispatch",
            )
        request_id = inputs.get("request_id")
        if not request_id:
            return None
        # Only a run created by this dispatch counts (a re-plan must not pick up the old run):
        # GitHub's own Date header dates the dispatch; without one, our clock with more slack.
        not_before = _server_time(response.headers.get("date")) or (
            datetime.fromtimestamp(self.client.now(), UTC) - LOCAL_CLOCK_SLACK
        )
        for attempt in range(1, self.dispatch_find_attempts + 1):
            found = self._find_run(repo, workflow, request_id=request_id, ref=ref, not_before=not_before)
            if found is not None:
                return found
            if attempt < self.dispatch_find_attempts:
                self.client.pause(self.dispatch_poll_seconds * attempt)
        return None

    def find_run(self, repo: RepoRef, workflow: str, *, request_id: str, ref: str | None = None) -> RunInfo | None:
        mapping.check_repo(repo)
        return self._find_run(repo, workflow, request_id=request_id, ref=ref, not_before=None)

    def _find_run(
        self, repo: RepoRef, workflow: str, *, request_id: str, ref: str | None, not_before: datetime | None
    ) -> RunInfo | None:
        response = self.client.get(
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
            path=_repo_path(repo, workflow_id=workflow),
            params={"event": "workflow_dispatch", "branch": ref, "per_page": self.runs_per_page},
        )
        runs = _dict(response.data).get("workflow_runs")
        matches = [
            mapping.run(item, web_url=self.web_url, repo=repo)
            for item in (runs if isinstance(runs, list) else [])
            if isinstance(item, dict) and mapping.run_mentions(item, request_id)
        ]
        if not_before is not None:
            matches = [r for r in matches if r.created_at is None or r.created_at >= not_before - DISPATCH_CLOCK_SLACK]
        if not matches:
            return None
        return max(matches, key=lambda r: (r.created_at.timestamp() if r.created_at else 0.0, r.run_id))

    def get_run(self, repo: RepoRef, run_id: int) -> RunInfo:
        mapping.check_repo(repo)
        key = f"{repo.owner}/{repo.name}/actions/runs/{run_id}"
        kept, data, etag = self._remembered_get(
            key, "/repos/{owner}/{repo}/actions/runs/{run_id}", _repo_path(repo, run_id=run_id)
        )
        if kept:
            return RunInfo.model_validate(data)
        info = mapping.run(data, web_url=self.web_url, repo=repo)
        self._remember(key, etag, info.model_dump(mode="json"))
        return info

    def list_jobs(self, repo: RepoRef, run_id: int) -> list[JobInfo]:
        """The jobs (with their steps) of the run's latest attempt."""
        mapping.check_repo(repo)
        jobs: list[JobInfo] = []
        for page in range(1, MAX_JOB_PAGES + 1):
            response = self.client.get(
                "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
                path=_repo_path(repo, run_id=run_id),
                params={"filter": "latest", "per_page": JOB_PAGE, "page": page},
            )
            data = _dict(response.data)
            items = data.get("jobs")
            items = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
            jobs.extend(mapping.job(item) for item in items)
            total = data.get("total_count")
            if len(items) < JOB_PAGE or not isinstance(total, int) or len(jobs) >= total:
                break
        return jobs

    # --- artifacts -----------------------------------------------------------------------------
    def _run_artifacts(self, repo: RepoRef, run_id: int) -> list[dict[str, Any]]:
        """Every artifact of the run, listed once (unfiltered, so the cost artifact comes with
        the plan's); an empty listing is not kept, the run may still be uploading."""
        now = self.client.now()
        cached = self._listings.get(repo.full_name, run_id, now)
        if cached is not None:
            return cached
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_ARTIFACT_PAGES + 1):
            listing = self.client.get(
                "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
                path=_repo_path(repo, run_id=run_id),
                params={"per_page": ARTIFACT_PAGE, "page": page} if page > 1 else {"per_page": ARTIFACT_PAGE},
            )
            items = artifacts.artifacts_of(listing.data)
            found.extend(items)
            total = _dict(listing.data).get("total_count")
            if len(items) < ARTIFACT_PAGE or not isinstance(total, int) or len(found) >= total:
                break
        if found:
            self._listings.put(repo.full_name, run_id, now, found)
        return found

    def get_plan_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        return self._artifact_json(repo, run_id, f"tfplan-{request_id}", "plan.json")

    def get_cost_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        return self._artifact_json(repo, run_id, f"infracost-{request_id}", "infracost.json")

    def get_run_report(self, repo: RepoRef, run_id: int, request_id: str, *, succeeded: bool) -> RunReport | None:
        if succeeded:
            doc = self._artifact_json(repo, run_id, f"{artifacts.OUTPUTS_ARTIFACT}-{request_id}", "outputs.json")
            return artifacts.outputs_report(doc, request_id) if doc is not None else None
        doc = self._artifact_json(repo, run_id, f"{artifacts.DIAGNOSTICS_ARTIFACT}-{request_id}", "diagnostics.json")
        return artifacts.diagnostics_report(doc, request_id) if doc is not None else None

    def _artifact_json(self, repo: RepoRef, run_id: int, name: str, member: str) -> dict[str, Any] | None:
        mapping.check_repo(repo)
        artifact = artifacts.pick_artifact(self._run_artifacts(repo, run_id), name)
        if artifact is None:
            return None
        try:
            response = self.client.get(
                "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
                path=_repo_path(repo, artifact_id=artifact["id"], archive_format="zip"),
                use_cache=False,
            )
        except GitHubApiError as exc:
            if exc.status in (404, 410):
                LOG.info("artifact %s of run %s is gone (%s)", name, run_id, exc.status)
                return None
            raise
        location = response.headers.get("location")
        if response.status in (301, 302, 303, 307, 308) and location:
            archive = self.client.download(location, max_bytes=self.max_artifact_bytes)
        elif response.status == 200:
            archive = response.content
            if len(archive) > self.max_artifact_bytes:
                raise CodeHostError(f"artifact {name} is over the {self.max_artifact_bytes}-byte limit")
        else:
            raise CodeHostError(f"artifact {name} download answered {response.status} without a location")
        return artifacts.json_member(archive, member, max_bytes=self.max_json_bytes, artifact=name)


def _write_error(exc: CodeHostError, path: str, branch: str, parent_sha: str) -> CodeHostError:
    said = (exc.github_message if isinstance(exc, GitHubApiError) else "") or str(exc)
    if exc.status == 409:
        message = (
            f"conflict writing {path} on {branch}: the file changed since {parent_sha[:12]} or a rule refused "
            f"the write ({said})"
        )
    else:
        message = f"could not write {path} on {branch}: {said}"
    return CodeHostError(message, status=exc.status, retryable=exc.retryable)


def _repo_path(repo: RepoRef, **extra: str | int) -> dict[str, str | int]:
    return {"owner": repo.owner, "repo": repo.name, **extra}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sha(data: Any, what: str) -> str:
    sha = _dict(data).get("sha")
    if not isinstance(sha, str) or not sha:
        raise CodeHostError(f"GitHub returned no sha for the {what}")
    return sha


def _ref_sha(data: Any) -> str:
    return _sha(_dict(data).get("object"), "reference")


def _server_time(date_header: str | None) -> datetime | None:
    if not date_header:
        return None
    try:
        when = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _conforms(host: GitHubCodeHost) -> CodeHost:
    """Never called: lets mypy check ``GitHubCodeHost`` against the ``CodeHost`` protocol."""
    return host


def _lists_jobs(host: GitHubCodeHost) -> RunJobs:
    """Never called: lets mypy check ``GitHubCodeHost`` against the ``RunJobs`` protocol."""
    return host


def _reports_runs(host: GitHubCodeHost) -> RunReports:
    """Never called: lets mypy check ``GitHubCodeHost`` against the ``RunReports`` protocol."""
    return host
