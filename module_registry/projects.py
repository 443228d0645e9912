"""The projects map: project -> environments -> where their Terraform lives (GitHub owner, repo,
base branch, env path), whether the environment is production and which modules it allows.

Read from YAML, TOML or JSON (``TFPILOT_PROJECTS_FILE``); with no file, the shipped example
(``data/projects.example.yaml``) is used, which is what ``tfpilot demo`` and ``tfpilot chat`` run
on. Environments inherit ``owner``, ``repo``, ``base_branch``, ``owner_team`` and
``allowed_modules`` from their project; ``env_path`` defaults to ``envs/<environment>`` and
``prod`` to true for environments named ``prod`` or ``production``. ``approvals_channel`` (a
Slack channel id, set on a project and/or an environment, the environment's winning) is where
the request's card is also posted when it waits for an approver. Everything is validated at
load, and an error names the file and the JSON pointer of the bad value.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from module_registry import documents, identifiers
from module_registry.errors import InvalidName, RegistryError, UnknownProject
from module_registry.meta import model_error_words, pointer

MAX_PROJECTS_FILE_BYTES = 1024 * 1024
GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
BRANCH_RE = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
TEAM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
# A Slack conversation id of a channel: public (C…) or private (G…, older private channels).
# A channel *name* cannot be used: names change and the Web API addresses channels by id.
SLACK_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{6,20}$")
PROD_NAMES = frozenset({"prod", "production"})
SUPPORTED_VERSION = 1


class EnvironmentTarget(BaseModel):
    """Where one project environment's Terraform lives, and its policy."""

    model_config = ConfigDict(frozen=True)

    owner: str
    repo: str
    base_branch: str
    env_path: str
    prod: bool
    allowed_modules: list[str] | None = None  # None: every module in the registry
    owner_team: str | None = None
    project: str = ""
    environment: str = ""
    description: str | None = None
    approvals_channel: str | None = None  # Slack channel id where approvers see the card

    def allows(self, module_id: str) -> bool:
        return self.allowed_modules is None or module_id in self.allowed_modules

    @property
    def repo_full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


class _RawEnvironment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    owner: str | None = None
    repo: str | None = None
    base_branch: str | None = None
    env_path: str | None = None
    prod: bool | None = None
    allowed_modules: list[str] | None = None
    owner_team: str | None = None
    approvals_channel: str | None = None


class _RawProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    owner: str | None = None
    repo: str | None = None
    base_branch: str = "main"
    owner_team: str | None = None
    allowed_modules: list[str] | None = None
    approvals_channel: str | None = None
    environments: dict[str, _RawEnvironment | None] = Field(min_length=1)


class _RawMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    projects: dict[str, _RawProject] = Field(min_length=1)


class ProjectsMap:
    """Validated projects and their environment targets."""

    def __init__(
        self,
        targets: dict[str, dict[str, EnvironmentTarget]],
        *,
        source: str,
        descriptions: dict[str, str | None] | None = None,
    ) -> None:
        self.source = source
        self._targets = targets
        self._descriptions = descriptions or {}

    def names(self) -> list[str]:
        return sorted(self._targets)

    def environments(self, project: str) -> list[str]:
        return list(self._project(project))

    def description(self, project: str) -> str | None:
        self._project(project)
        return self._descriptions.get(project)

    def target(self, project: str, environment: str) -> EnvironmentTarget:
        envs = self._project(project)
        if environment not in envs:
            raise UnknownProject(project, environment, envs)
        return envs[environment]

    def targets(self) -> list[EnvironmentTarget]:
        return [t for project in self.names() for t in self._targets[project].values()]

    def allows(self, project: str, environment: str, module_id: str) -> bool:
        return self.target(project, environment).allows(module_id)

    def approvals_channel(self, project: str, environment: str) -> str | None:
        """The Slack channel where this environment's requests wait for approvers (None: none
        set, or the project/environment is no longer in the map)."""
        try:
            return self.target(project, environment).approvals_channel
        except UnknownProject:
            return None

    def _project(self, project: str) -> dict[str, EnvironmentTarget]:
        try:
            return self._targets[project]
        except (KeyError, TypeError):
            raise UnknownProject(str(project), None, self._targets) from None

    def check_modules(self, known_modules: Iterable[str]) -> None:
        """Refuse an ``allowed_modules`` entry the registry does not define."""
        known = set(known_modules)
        for project in self.names():
            for environment, target in self._targets[project].items():
                for index, module_id in enumerate(target.allowed_modules or []):
                    if module_id not in known:
                        raise RegistryError(
                            f"allowed module {module_id!r} is not in the registry (known: {', '.join(sorted(known))})",
                            file=self.source,
                            pointer=pointer(
                                ["projects", project, "environments", environment, "allowed_modules", index]
                            ),
                        )

    def to_doc(self) -> dict[str, Any]:
        return {
            project: {env: target.model_dump() for env, target in envs.items()}
            for project, envs in sorted(self._targets.items())
        }


def example_projects_file() -> Path:
    return Path(str(resources.files("module_registry") / "data" / "projects.example.yaml"))


def _read(path: Path) -> Any:
    name = str(path)
    text = documents.read_text(path, limit=MAX_PROJECTS_FILE_BYTES, what="the projects file")
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix == ".json":
            return documents.load_json(text)
        if path.suffix in (".yaml", ".yml"):
            return documents.load_yaml(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise RegistryError(f"the projects file does not parse: {exc}", file=name) from exc
    except documents.DuplicateKey as exc:
        raise RegistryError(f"the projects file is ambiguous: {exc}", file=name) from exc
    except ValueError as exc:  # NaN or Infinity
        raise RegistryError(f"the projects file does not parse: {exc}", file=name) from exc
    raise RegistryError("the projects file must end in .yaml, .yml, .toml or .json", file=name)


def _check(kind: str, value: str, regex: re.Pattern[str], rule: str, file: str, where: list[Any]) -> str:
    if not regex.match(value) or identifiers.danger(value, allow_slash=kind == "base branch") is not None:
        reason = identifiers.danger(value, allow_slash=kind == "base branch") or f"must be {rule}"
        raise RegistryError(f"invalid {kind} {value!r}: {reason}", file=file, pointer=pointer(where))
    return value


def _branch(value: str, file: str, where: list[Any]) -> str:
    _check("base branch", value, BRANCH_RE, "a git branch name (letters, digits, . _ / -)", file, where)
    bad = (
        value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or "//" in value
        or "/." in value
        or "@{" in value
    )
    if bad:
        raise RegistryError(
            f"invalid base branch {value!r}: not a valid git branch name", file=file, pointer=pointer(where)
        )
    return value


def _target(project: str, environment: str, spec: _RawProject, env: _RawEnvironment, source: str) -> EnvironmentTarget:
    """One environment's target after inheritance from its project, every value checked."""
    where: list[Any] = ["projects", project]
    env_where = [*where, "environments", environment]
    try:
        identifiers.check_environment(environment)
    except InvalidName as exc:
        raise RegistryError(str(exc), file=source, pointer=pointer(env_where)) from exc
    owner = env.owner or spec.owner
    repo = env.repo or spec.repo
    for key, value in (("owner", owner), ("repo", repo)):
        if value is None:
            raise RegistryError(
                f"{key} is required (set it on the environment or its project)",
                file=source,
                pointer=pointer([*env_where, key]),
            )
    assert owner is not None and repo is not None
    owner_at = env_where if env.owner else where
    repo_at = env_where if env.repo else where
    _check("owner", owner, GITHUB_OWNER_RE, "a GitHub user or organisation name", source, [*owner_at, "owner"])
    _check("repo", repo, GITHUB_REPO_RE, "a GitHub repository name", source, [*repo_at, "repo"])
    if repo in (".", "..") or repo.endswith(".git"):
        raise RegistryError(
            f"invalid repo {repo!r}: give the bare repository name", file=source, pointer=pointer([*repo_at, "repo"])
        )
    base = env.base_branch or spec.base_branch
    _branch(base, source, [*(env_where if env.base_branch else where), "base_branch"])
    if environment in PROD_NAMES and env.prod is False:
        # The production policy (allowlists, constraints, confirmations) keys on this flag: a
        # "prod" that is not production is far more likely a slip than a wish.
        raise RegistryError(
            f"environment {environment!r} is named as production but has prod: false, so the production "
            "policy would not apply; remove the flag or rename the environment",
            file=source,
            pointer=pointer([*env_where, "prod"]),
        )
    env_path = env.env_path or f"envs/{environment}"
    try:
        identifiers.check_env_path(env_path)
    except InvalidName as exc:
        raise RegistryError(str(exc), file=source, pointer=pointer([*env_where, "env_path"])) from exc
    allowed = env.allowed_modules if env.allowed_modules is not None else spec.allowed_modules
    allowed_at = env_where if env.allowed_modules is not None else where
    for index, module_id in enumerate(allowed or []):
        try:
            identifiers.check_module_id(module_id)
        except InvalidName as exc:
            raise RegistryError(
                str(exc), file=source, pointer=pointer([*allowed_at, "allowed_modules", index])
            ) from exc
    team = env.owner_team or spec.owner_team
    if team is not None:
        team_at = env_where if env.owner_team else where
        _check(
            "owner team",
            team,
            TEAM_RE,
            "a team name (letters, digits, spaces, . _ -)",
            source,
            [*team_at, "owner_team"],
        )
    channel = env.approvals_channel or spec.approvals_channel
    if channel is not None:
        channel_at = env_where if env.approvals_channel else where
        if not SLACK_CHANNEL_RE.match(channel):
            raise RegistryError(
                f"invalid approvals channel {channel!r}: must be a Slack channel id (C… for a public channel, "
                "G… or C… for a private one, e.g. C0123ABCDE; a name such as #approvals does not work): "
                "copy it from the channel's details in Slack",
                file=source,
                pointer=pointer([*channel_at, "approvals_channel"]),
            )
    return EnvironmentTarget(
        owner=owner,
        repo=repo,
        base_branch=base,
        env_path=env_path,
        prod=env.prod if env.prod is not None else environment in PROD_NAMES,
        allowed_modules=list(allowed) if allowed is not None else None,
        owner_team=team,
        project=project,
        environment=environment,
        description=env.description,
        approvals_channel=channel,
    )


def parse_projects(doc: Any, *, source: str) -> ProjectsMap:
    """Validate a parsed projects document (``RegistryError`` naming ``source`` and a pointer)."""
    if not isinstance(doc, dict):
        raise RegistryError("the projects file must hold an object with a 'projects' key", file=source, pointer="")
    try:
        raw = _RawMap.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RegistryError(model_error_words(first), file=source, pointer=pointer(list(first["loc"]))) from exc
    if raw.version != SUPPORTED_VERSION:
        raise RegistryError(
            f"version {raw.version} is not supported (this TfPilot reads version {SUPPORTED_VERSION})",
            file=source,
            pointer="/version",
        )
    targets: dict[str, dict[str, EnvironmentTarget]] = {}
    descriptions: dict[str, str | None] = {}
    places: dict[tuple[str, str, str, str], str] = {}
    for project, spec in raw.projects.items():
        try:
            identifiers.check_project(project)
        except InvalidName as exc:
            raise RegistryError(str(exc), file=source, pointer=pointer(["projects", project])) from exc
        descriptions[project] = spec.description
        envs: dict[str, EnvironmentTarget] = {}
        for environment, env_spec in spec.environments.items():
            target = _target(project, environment, spec, env_spec or _RawEnvironment(), source)
            place = (target.owner.lower(), target.repo.lower(), target.base_branch, target.env_path)
            if place in places:
                raise RegistryError(
                    f"{project}/{environment} writes to the same repo, branch and path as {places[place]}",
                    file=source,
                    pointer=pointer(["projects", project, "environments", environment, "env_path"]),
                )
            places[place] = f"{project}/{environment}"
            envs[environment] = target
        targets[project] = envs
    return ProjectsMap(targets, source=source, descriptions=descriptions)


def load_projects(path: Path | None = None, *, known_modules: Iterable[str] | None = None) -> ProjectsMap:
    """The projects map at ``path`` (None: the shipped example), validated.

    With ``known_modules``, every ``allowed_modules`` entry must be one of them."""
    file = Path(path) if path is not None else example_projects_file()
    projects = parse_projects(_read(file), source=str(file))
    if known_modules is not None:
        projects.check_modules(known_modules)
    return projects
