"""The checks of ``tfpilot doctor``: is each infra repository of the projects map ready for TfPilot?

For every (repository, base branch) the projects map names: the repository exists and the app
reads it; the base branch exists; the workflows TfPilot dispatches (plan, apply, destroy) exist
there and accept the ``workflow_dispatch`` inputs TfPilot sends, and the destroy workflow is the
one that destroys with the request's file still on the base branch (its preflight and restore);
the app's permissions (the App installation's, or what the token may do) cover contents (the
``destroy/<id>`` and ``prepare/<id>`` branches), pull requests (open, review, merge the request,
removal and prepare PRs) and actions (dispatch); the branch protection and rulesets (will a
Slack approval satisfy them? may the app merge the removal PR? does every required status check
come from the plan workflow, which TfPilot runs on each PR's head?); the webhook events
(``workflow_run``, ``pull_request``, ``pull_request_review``). The cleanup workflow is no longer
dispatched (destroys open their removal PR themselves), so it is not checked, nor whether
Actions may open pull requests. Without GitHub settings, the local checks: Terraform found,
provider mirror, data directory writable.

Each check is ``ok``, ``warn`` or ``fail`` with what to do; the verdicts are pure functions of
what was read (``core.adapters.github.repo_checks`` reads).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from core.adapters.github import repo_checks
from core.adapters.github.client import GitHubApiError
from core.adapters.github.code_host import GitHubCodeHost
from core.domain.workflows import RunKind, WorkflowNames
from core.ports.code_host import CodeHostError, RepoRef
from module_registry.projects import ProjectsMap

Verdict = Literal["ok", "warn", "fail"]
# The inputs TfPilot sends with every dispatch (RequestService._launch).
DISPATCH_INPUTS = ("request_id", "environment")
NEEDED_PERMISSIONS = ("contents", "pull_requests", "actions")
NEEDED_EVENTS = ("workflow_run", "pull_request", "pull_request_review")
# The workflows TfPilot dispatches (a destroy: its removal PR's plan, then destroy.yml). The
# cleanup workflow only served destroys begun before the removal PR: no longer dispatched.
DISPATCHED: tuple[RunKind, ...] = ("plan", "apply", "destroy")
# Steps of the destroy workflow that keep a failed destroy harmless (tfpilot_ci.py commands).
DESTROY_STEPS = ("destroy-preflight", "check-restore")
SCAFFOLD_FIX = "run `tfpilot scaffold infra-repo DIR` and commit its .github/workflows to the base branch"


class Check(BaseModel):
    name: str
    scope: str
    status: Verdict
    detail: str
    fix: str | None = None


def _check(name: str, scope: str, status: Verdict, detail: str, fix: str | None = None) -> Check:
    return Check(name=name, scope=scope, status=status, detail=detail, fix=fix if status != "ok" else None)


# --- GitHub ------------------------------------------------------------------------------------


def github_checks(host: GitHubCodeHost, projects: ProjectsMap, workflows: WorkflowNames) -> list[Check]:
    """Every check for every (repository, base branch) of the projects map."""
    checks: list[Check] = []
    places: dict[tuple[str, str, str], list[str]] = {}
    for target in projects.targets():
        key = (target.owner, target.repo, target.base_branch)
        places.setdefault(key, []).append(f"{target.project}/{target.environment}")
    for (owner, name, base), envs in places.items():
        checks.extend(_repo_checks(host, RepoRef(owner=owner, name=name), base, envs, workflows))
    return checks


def _repo_checks(
    host: GitHubCodeHost, repo: RepoRef, base: str, envs: list[str], workflows: WorkflowNames
) -> list[Check]:
    scope = f"{repo.full_name}@{base} ({', '.join(envs)})"
    client = host.client
    try:
        info = repo_checks.repository(client, repo)
    except GitHubApiError as exc:
        fix = "install the GitHub App on this repository (or give the token access to it), and check the name"
        return [
            _check("repository", scope, "fail", f"cannot read {repo.full_name}: {exc.status} {exc.github_message}", fix)
        ]
    out = [
        _check("repository", scope, "ok", f"{repo.full_name} is readable (default branch {info.get('default_branch')})")
    ]
    if host.branch_head(repo, base) is None:
        out.append(
            _check("base branch", scope, "fail", f"branch {base!r} not found", "fix base_branch in the projects map")
        )
        return out
    texts: dict[str, str] = {}
    out.extend(_workflow_checks(client, repo, base, scope, workflows, texts))
    out.extend(_access_checks(host, repo, scope, info))
    out.append(_protection_check(host, repo, base, scope, plan_checks=texts.get("plan")))
    return out


def _workflow_checks(
    client: Any, repo: RepoRef, base: str, scope: str, workflows: WorkflowNames, texts: dict[str, str]
) -> list[Check]:
    """The workflows TfPilot dispatches; ``texts`` receives each one read (by kind)."""
    out = []
    for kind in DISPATCHED:
        name = workflows.file(kind)
        path = f".github/workflows/{name}"
        try:
            text = repo_checks.file_text(client, repo, path, base)
        except GitHubApiError as exc:
            out.append(_check(f"workflow {kind}", scope, "fail", f"cannot read {path}: {exc.status}", SCAFFOLD_FIX))
            continue
        if text is None:
            out.append(_check(f"workflow {kind}", scope, "fail", f"{path} is missing on {base}", SCAFFOLD_FIX))
            continue
        texts[kind] = text
        status, detail = workflow_inputs_verdict(text)
        if status == "ok" and kind == "destroy":
            status, detail = destroy_workflow_verdict(text)
        out.append(_check(f"workflow {kind}", scope, status, f"{path}: {detail}", SCAFFOLD_FIX))
    return out


def destroy_workflow_verdict(text: str) -> tuple[Verdict, str]:
    """Is this the destroy workflow of the removal-PR flow? TfPilot dispatches it on the base
    branch while the request's file is still there; it must refuse what AWS would refuse before
    deleting anything and restore the request's resources after a part-way failure. An older
    one (dispatched after a cleanup PR removed the file) has neither step."""
    missing = [step for step in DESTROY_STEPS if step not in text]
    if missing:
        return (
            "warn",
            f"an older destroy workflow (no {', '.join(missing)} step): a destroy AWS refuses part-way "
            "would leave the request's resources stripped of their protections",
        )
    return "ok", f"workflow_dispatch accepts {', '.join(DISPATCH_INPUTS)}; preflight and restore present"


def job_names(text: str | None) -> set[str]:
    """The check names a workflow's jobs report (a job's ``name``, else its id)."""
    try:
        doc = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return set()
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    if not isinstance(jobs, dict):
        return set()
    return {str(job.get("name") or jid) if isinstance(job, dict) else str(jid) for jid, job in jobs.items()}


def workflow_inputs_verdict(text: str) -> tuple[Verdict, str]:
    """Does the workflow accept the dispatch TfPilot sends (its inputs, nothing else required)?"""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return "fail", f"not valid YAML ({exc.__class__.__name__})"
    if not isinstance(doc, dict):
        return "fail", "not a workflow (no mapping at the top)"
    # YAML 1.1 reads a bare `on` key as true.
    triggers = doc.get("on", doc.get(True))
    if isinstance(triggers, str):
        triggers = {triggers: None}
    elif isinstance(triggers, list):
        triggers = dict.fromkeys(triggers)
    if not isinstance(triggers, dict) or "workflow_dispatch" not in triggers:
        return "fail", "has no workflow_dispatch trigger"
    dispatch = triggers.get("workflow_dispatch") or {}
    inputs = dispatch.get("inputs") or {} if isinstance(dispatch, dict) else {}
    missing = [name for name in DISPATCH_INPUTS if name not in inputs]
    if missing:
        return "fail", f"workflow_dispatch lacks the input(s) {', '.join(missing)} that TfPilot sends"
    extra = [
        name
        for name, spec in inputs.items()
        if name not in DISPATCH_INPUTS and isinstance(spec, dict) and spec.get("required") and "default" not in spec
    ]
    if extra:
        return "fail", f"workflow_dispatch requires input(s) TfPilot does not send: {', '.join(map(str, extra))}"
    return "ok", f"workflow_dispatch accepts {', '.join(DISPATCH_INPUTS)}"


def _access_checks(host: GitHubCodeHost, repo: RepoRef, scope: str, info: dict[str, Any]) -> list[Check]:
    client = host.client
    try:
        install = repo_checks.installation(client, repo)
    except GitHubApiError as exc:
        fix = "install the GitHub App on this repository"
        return [_check("app permissions", scope, "fail", f"installation not readable: {exc.status}", fix)]
    if install is None:
        return [_token_permissions(info, scope), _hooks_check(client, repo, scope)]
    granted = install.get("permissions") or {}
    missing = [p for p in NEEDED_PERMISSIONS if granted.get(p) != "write"]
    perms = (
        _check("app permissions", scope, "ok", "contents, pull requests and actions: write")
        if not missing
        else _check(
            "app permissions",
            scope,
            "fail",
            f"the App lacks write on {', '.join(missing)}",
            "in the App's settings grant Read and write on those permissions, then accept them on the installation",
        )
    )
    events = set(install.get("events") or [])
    lacking = [e for e in NEEDED_EVENTS if e not in events]
    hooks = (
        _check("webhook events", scope, "ok", f"the App receives {', '.join(NEEDED_EVENTS)}")
        if not lacking
        else _check(
            "webhook events",
            scope,
            "warn",
            f"the App is not subscribed to {', '.join(lacking)}: status changes wait for the reconciler",
            "subscribe the App to those events (App settings > Permissions & events)",
        )
    )
    slug = install.get("app_slug")
    if isinstance(slug, str) and slug and host.app_slug is None:
        # Classic protection names the apps that may bypass it by slug: let the protection check see ours.
        host.app_slug = slug
    return [perms, hooks]


def _token_permissions(info: dict[str, Any], scope: str) -> Check:
    allowed = info.get("permissions") or {}
    if allowed.get("push"):
        return _check("token permissions", scope, "ok", "the token may push (write access)")
    return _check(
        "token permissions",
        scope,
        "fail",
        "the token has no write access to this repository",
        "use a token with contents, pull requests and actions write (fine-grained) or the repo and workflow scopes",
    )


def _hooks_check(client: Any, repo: RepoRef, scope: str) -> Check:
    try:
        found = repo_checks.hooks(client, repo)
    except GitHubApiError as exc:
        return _check(
            "webhook events",
            scope,
            "warn",
            f"the repository's webhooks are not readable ({exc.status}): cannot tell which events reach TfPilot",
            "check Settings > Webhooks: send workflow_run, pull_request and pull_request_review to /github/webhook",
        )
    events = {e for h in found if h.get("active", True) for e in h.get("events") or []}
    lacking = [] if "*" in events else [e for e in NEEDED_EVENTS if e not in events]
    if not lacking:
        return _check("webhook events", scope, "ok", f"a webhook sends {', '.join(NEEDED_EVENTS)}")
    return _check(
        "webhook events",
        scope,
        "warn",
        f"no active webhook sends {', '.join(lacking)}: status changes wait for the reconciler",
        "add a webhook (Settings > Webhooks) to TfPilot's /github/webhook with those events",
    )


def _protection_check(
    host: GitHubCodeHost, repo: RepoRef, base: str, scope: str, *, plan_checks: str | None = None
) -> Check:
    try:
        found = host.branch_protection(repo, base)
    except CodeHostError as exc:
        return _check("branch protection", scope, "warn", f"not readable: {exc}", "give the app Administration: read")
    where = f" ({', '.join(found.sources)})" if found.sources else ""
    # TfPilot runs the plan workflow on the head of every PR it opens (request, prepare and
    # removal PRs): a required check no job of it reports keeps those PRs unmergeable.
    produced = job_names(plan_checks)
    foreign = [c for c in found.required_checks if c not in produced] if plan_checks is not None else []
    if foreign:
        return _check(
            "branch protection",
            scope,
            "warn",
            f"required status check(s) {', '.join(foreign)}{where} are not reported by the plan workflow "
            f"(its jobs: {', '.join(sorted(produced)) or 'none'}), the only workflow TfPilot runs on its PRs: "
            "request and destroy removal PRs would wait for them forever",
            "require the plan workflow's check instead, or make sure another workflow reports those checks on "
            "pull requests of branches request/*, prepare/* and destroy/*",
        )
    checks = (
        f"; required checks: {', '.join(found.required_checks)} (the plan workflow reports them)"
        if (found.required_checks)
        else ""
    )
    if found.reviews_required:
        n = found.required_approvals
        if found.app_can_bypass:
            return _check(
                "branch protection",
                scope,
                "ok",
                f"{n} approving review(s) required{where}; the app may bypass them{checks}",
            )
        return _check(
            "branch protection",
            scope,
            "warn",
            f"{n} approving review(s) required{where}: a Slack approval counts only when the approver linked a "
            "GitHub account, and a destroy's removal PR (destroy/<id>, opened by the app) needs an approving "
            f"review by a person (a linked admin's Destroy click gives it) before the destroy runs{checks}",
            "approvers and admins run `/tfpilot link`; or add the App as a bypass actor of the rule; or lower "
            "the requirement",
        )
    if found.visibility == "unknown":
        return _check(
            "branch protection",
            scope,
            "warn",
            f"cannot tell: {found.detail}",
            "grant the App Administration: read (or check the protection by hand)",
        )
    return _check("branch protection", scope, "ok", f"no approving review required{where}{checks}")


# --- local -------------------------------------------------------------------------------------


def local_checks(
    data_dir: Path,
    *,
    which: Callable[[str], str | None] = shutil.which,
    plugin_dirs: Iterable[Path] = (Path("/opt/tf-plugins"),),
) -> list[Check]:
    """Without GitHub: what the local forge and runner need on this machine."""
    scope = "local"
    out: list[Check] = []
    terraform = which("terraform")
    if terraform is None:
        out.append(
            _check(
                "terraform",
                scope,
                "warn",
                "terraform not found on PATH: local runs are labelled previews, nothing is planned for real",
                "install Terraform (>= 1.5) and put it on PATH",
            )
        )
    else:
        out.append(_check("terraform", scope, "ok", f"{terraform} ({_terraform_version(terraform)})"))
    mirrors = [p for p in plugin_dirs if p.is_dir()]
    cli_config = os.environ.get("TF_CLI_CONFIG_FILE")
    if mirrors or cli_config:
        where = ", ".join(str(p) for p in mirrors) or f"TF_CLI_CONFIG_FILE={cli_config}"
        out.append(_check("provider", scope, "ok", f"provider mirror: {where}"))
    else:
        out.append(
            _check(
                "provider",
                scope,
                "warn",
                "no local provider mirror found: terraform init downloads hashicorp/aws (needs network)",
                "mirror the provider (terraform providers mirror DIR) and point TF_CLI_CONFIG_FILE at it",
            )
        )
    out.append(_data_dir_check(data_dir, scope))
    return out


def _terraform_version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=20, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        return f"version unknown: {exc.__class__.__name__}"
    first = (done.stdout or "").splitlines()
    return first[0] if first else "version unknown"


def _data_dir_check(data_dir: Path, scope: str) -> Check:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-", delete=True):
            pass
    except OSError as exc:
        return _check(
            "data directory",
            scope,
            "fail",
            f"{data_dir} is not writable ({exc.strerror or exc})",
            "set TFPILOT_DATA_DIR to a writable directory",
        )
    return _check("data directory", scope, "ok", f"{data_dir} is writable")
