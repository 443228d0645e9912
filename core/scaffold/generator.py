"""Infra repo scaffold: the files of a project's infra repo that TfPilot's workflows expect.

``scaffold_files(options)`` returns ``{relative path: content}`` and writes nothing: per
environment ``envs/<env>/`` (S3 backend stub, pinned AWS provider, a note on request files), the
workflows ``plan``, ``apply``, ``destroy``, ``cleanup`` and ``drift`` (actions pinned by commit
sha, least-privilege permissions per job) under ``.github/workflows/``, their standard-library
helper ``.github/tfpilot/tfpilot_ci.py``, a ``.github/dependabot.yml`` that keeps the pins
current, a README and a ``.gitignore``. Templates are package data in ``scaffold_templates/``;
every value put into them is validated first, so nothing the caller passes can inject YAML,
shell or HCL.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.domain.errors import TfPilotError
from core.domain.workflows import WorkflowNames

HELPER_PATH: Final = ".github/tfpilot/tfpilot_ci.py"
WORKFLOWS_DIR: Final = ".github/workflows"
DEPENDABOT_PATH: Final = ".github/dependabot.yml"
_ENV_RE: Final = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_PROJECT_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_REGION_RE: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_VERSION_RE: Final = re.compile(r"^\d+\.\d+\.\d+$")
_URL_RE: Final = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?$")
_CRON_RE: Final = re.compile(r"^[0-9*/,-]+( [0-9*/,-]+){4}$")
_WORKFLOW_FILE_RE: Final = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml$")
_TOKEN_RE: Final = re.compile(r"@@[A-Z_]+@@")
_RESERVED_ENVS: Final = frozenset({"all"})  # "all" is the drift workflow's every-environment choice
# The only actions the workflows use, each pinned to a full commit sha (a tag can be moved; a sha
# cannot), with the release it is as a comment for readers and Dependabot. Every one runs on
# Node 24; how each sha was checked against its tag is in docs/infra-repo.md ("Actions used").
ACTION_PINS: Final[dict[str, tuple[str, str]]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "hashicorp/setup-terraform": ("dfe3c3f87815947d99a8997f908cb6525fc44e9e", "v4.0.1"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
}


class InvalidScaffold(TfPilotError, ValueError):
    """An option of the scaffold is not acceptable; the message names it."""


class ScaffoldOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    environments: list[str] = Field(default_factory=lambda: ["dev", "prod"], min_length=1, max_length=20)
    tfpilot_url: str | None = None
    project: str | None = None
    aws_region: str = "us-east-1"
    terraform_version: str = "1.11.4"
    drift_cron: str = "17 6 * * *"  # daily, off the hour when GitHub's scheduler is busiest
    workflows: WorkflowNames = Field(default_factory=WorkflowNames)

    @classmethod
    def of(cls, **values: object) -> ScaffoldOptions:
        """Build options, turning validation errors into one ``InvalidScaffold`` message."""
        try:
            return cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg'].removeprefix('Value error, ')}"
                for err in exc.errors()
            )
            raise InvalidScaffold(problems) from exc

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: list[str]) -> list[str]:
        for env in value:
            if not _ENV_RE.match(env):
                raise ValueError(f"{env[:40]!r} is not an environment name (a-z, 0-9, '-', starting with a letter)")
            if env in _RESERVED_ENVS:
                raise ValueError(f"{env!r} is reserved")
        if len(set(value)) != len(value):
            raise ValueError("environments repeat")
        return value

    @field_validator("tfpilot_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.rstrip("/")
        if not _URL_RE.match(value):
            raise ValueError(f"{value[:80]!r} is not an http(s) base URL (no query, quotes or spaces)")
        return value

    @field_validator("project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is not None and not _PROJECT_RE.match(value):
            raise ValueError(f"{value[:40]!r} is not a project name")
        return value

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION_RE.match(value):
            raise ValueError(f"{value[:40]!r} is not an AWS region name")
        return value

    @field_validator("terraform_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION_RE.match(value):
            raise ValueError(f"{value[:40]!r} is not an exact Terraform version (x.y.z)")
        return value

    @field_validator("drift_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not _CRON_RE.match(value):
            raise ValueError(f"{value[:40]!r} is not a five-field cron expression")
        return value

    @field_validator("workflows")
    @classmethod
    def _workflow_files(cls, value: WorkflowNames) -> WorkflowNames:
        names = [value.plan, value.apply, value.destroy, value.cleanup, value.drift]
        for name in names:
            if not _WORKFLOW_FILE_RE.match(name):
                raise ValueError(f"{name[:40]!r} is not a workflow file name")
        if len(set(names)) != len(names):
            raise ValueError("workflow file names repeat")
        return value


def scaffold_files(options: ScaffoldOptions | None = None) -> dict[str, str]:
    """Every file of the infra repo, by path relative to its root."""
    opts = options or ScaffoldOptions()
    envs = opts.environments
    uses = {
        "USES_" + action.rsplit("/", 1)[1].upper().replace("-", "_"): f"{action}@{sha} # {release}"
        for action, (sha, release) in ACTION_PINS.items()
    }
    common = {
        "ENV_OPTIONS": json.dumps(envs),
        "ENV_OPTIONS_ALL": json.dumps(["all", *envs]),
        "ENV_JSON": json.dumps(envs, separators=(",", ":")),
        "AWS_REGION": opts.aws_region,
        "TERRAFORM_VERSION": opts.terraform_version,
        "TFPILOT_URL": opts.tfpilot_url or "",
        "PROJECT": opts.project or "",
        "DRIFT_CRON": opts.drift_cron,
        # The AWS credential steps are the same in every workflow that reaches AWS: one fragment.
        "AWS_STEPS": _fill("aws_steps.yml.tmpl", uses).rstrip("\n"),
        **uses,
    }
    names = opts.workflows
    files: dict[str, str] = {
        "README.md": _fill("README.md.tmpl", {**common, **_readme_values(opts)}),
        ".gitignore": _fill("gitignore.tmpl", {}),
        DEPENDABOT_PATH: _fill("dependabot.yml.tmpl", {}),
        HELPER_PATH: _fill("tfpilot_ci.py.tmpl", {}),
    }
    for kind, file_name in (
        ("plan", names.plan),
        ("apply", names.apply),
        ("destroy", names.destroy),
        ("cleanup", names.cleanup),
        ("drift", names.drift),
    ):
        files[f"{WORKFLOWS_DIR}/{file_name}"] = _fill(f"{kind}.yml.tmpl", {**common, **_diagnostics_steps(kind, uses)})
    for env in envs:
        values = {**common, "ENV": env}
        for name in ("backend.tf", "providers.tf", "main.tf"):
            files[f"envs/{env}/{name}"] = _fill(f"{name}.tmpl", values)
    return files


# The -json logs each workflow's terraform steps keep (tfpilot_ci.py tf-log), read for a failed
# run's diagnostics.
_DIAGNOSTICS_LOGS: Final[dict[str, str]] = {
    "plan": "validate.log.json plan.log.json",
    "apply": "plan.log.json apply.log.json",
}


def _diagnostics_steps(kind: str, uses: dict[str, str]) -> dict[str, str]:
    """The steps that upload a failed run's diagnostics (``tfdiag-<request id>``), for the
    workflows whose terraform output is kept as -json logs."""
    logs = _DIAGNOSTICS_LOGS.get(kind)
    if logs is None:
        return {}
    return {"DIAGNOSTICS_STEPS": _fill("diagnostics_steps.yml.tmpl", {**uses, "DIAGNOSTICS_LOGS": logs}).rstrip("\n")}


def _readme_values(opts: ScaffoldOptions) -> dict[str, str]:
    rows = "\n".join(
        f"| `envs/{env}/` | the {env} environment: `backend.tf` (S3 state), `providers.tf` (AWS provider), "
        f"one `tfpilot_<request id>.tf` per request |"
        for env in opts.environments
    )
    return {
        "TITLE": f"{opts.project} infrastructure" if opts.project else "Infrastructure",
        "TFPILOT_NAME": f"[TfPilot]({opts.tfpilot_url})" if opts.tfpilot_url else "TfPilot",
        "ENV_ROWS": rows,
        "URL_NOTE": f" (default `{opts.tfpilot_url}`)" if opts.tfpilot_url else "",
        "PROJECT_NOTE": f" (default `{opts.project}`)" if opts.project else "",
    }


def _fill(template: str, values: dict[str, str]) -> str:
    text = resources.files("core.scaffold.templates").joinpath(template).read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    left = _TOKEN_RE.search(text)
    if left:
        raise AssertionError(f"template {template} has no value for {left.group(0)}")
    return text
