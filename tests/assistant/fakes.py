"""Small stand-ins for the module registry and projects map (contract-shaped), used by the
flow tests that must not depend on the real catalogue's exact fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema

from core.domain.errors import PermissionDenied, RequestNotFound
from core.domain.index import IndexRow, Page
from core.domain.refusals import Denial, denial
from core.domain.request import PullRequestRef, Request
from module_registry.fields import ConfigField, fields_of
from tests.fakes import ManualClock


@dataclass
class FakeFieldError:
    field: str
    message: str
    allowed: str | None = None


@dataclass
class FakeValidation:
    ok: bool
    config: dict[str, Any]
    errors: list[FakeFieldError]


@dataclass
class FakeModule:
    id: str
    title: str
    schema: dict[str, Any]
    description: str = ""
    category: str = "storage"
    keywords: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    prod_rules: dict[str, Any] = field(default_factory=dict)  # field -> value required in prod

    def fields(self) -> list[ConfigField]:
        return fields_of(self.schema)


BUCKET = FakeModule(
    id="s3-bucket",
    title="S3 bucket",
    keywords=["bucket", "s3"],
    synonyms=["object storage"],
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "title": "Name", "pattern": "^[a-z0-9][a-z0-9-]{2,40}$", "examples": ["logs"]},
            "versioning": {"type": "boolean", "title": "Versioning", "default": True},
            "force_destroy": {"type": "boolean", "title": "Force destroy", "default": False},
            "storage_class": {
                "type": "string",
                "title": "Storage class",
                "enum": ["STANDARD", "INTELLIGENT_TIERING", "GLACIER"],
                "default": "STANDARD",
            },
            "expiration_days": {
                "type": "integer",
                "title": "Expiration",
                "minimum": 1,
                "maximum": 3650,
                "x-tfpilot-synonyms": [
                    "expire after",
                    "expire objects",
                    "delete objects after",
                    "lifecycle",
                    "expiry",
                    "expire",
                ],
            },
            "tags": {"type": "object", "additionalProperties": {"type": "string"}, "default": {}},
        },
    },
    presets={"private-encrypted": {"versioning": True, "storage_class": "INTELLIGENT_TIERING"}},
    prod_rules={"force_destroy": False},
)
QUEUE = FakeModule(
    id="sqs-queue",
    title="SQS queue",
    keywords=["queue", "sqs"],
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "visibility_timeout_seconds"],
        "properties": {
            "name": {"type": "string", "title": "Queue name", "pattern": "^[a-z0-9][a-z0-9-]{2,60}$"},
            "fifo": {"type": "boolean", "title": "FIFO queue", "default": False},
            "visibility_timeout_seconds": {
                "type": "integer",
                "title": "Visibility timeout",
                "x-tfpilot-synonyms": ["visibility", "timeout"],
                "minimum": 0,
                "maximum": 43200,
            },
            "message_retention_seconds": {
                "type": "integer",
                "title": "Message retention",
                "x-tfpilot-synonyms": ["retention", "retain messages", "keep messages", "message retention period"],
                "minimum": 60,
                "maximum": 1209600,
                "default": 345600,
            },
        },
    },
)

INSTANCE = FakeModule(
    id="ec2-instance",
    title="EC2 instance",
    keywords=["ec2", "instance", "vm"],
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "instance_type"],
        "properties": {
            "name": {"type": "string", "title": "Name", "pattern": "^[a-z0-9][a-z0-9-]{2,40}$"},
            "instance_type": {"type": "string", "title": "Instance type", "enum": ["t3.micro", "t3.small", "m5.large"]},
            "root_volume_size_gb": {
                "type": "integer",
                "title": "Root volume size",
                "minimum": 8,
                "maximum": 500,
                "default": 20,
            },
        },
    },
)


class FakeRegistry:
    def __init__(self, modules: list[FakeModule] | None = None) -> None:
        self._modules = {m.id: m for m in (modules or [BUCKET, QUEUE, INSTANCE])}

    def modules(self) -> list[FakeModule]:
        return list(self._modules.values())

    def get(self, module_id: str) -> FakeModule:
        if module_id not in self._modules:
            raise KeyError(module_id)
        return self._modules[module_id]

    def match(self, word: str) -> FakeModule | None:
        for m in self._modules.values():
            if word == m.id or word in m.keywords or word in m.synonyms:
                return m
        return None

    def validate(
        self, module_id: str, config: dict[str, Any], environment: str, *, prod: bool, project: str | None = None
    ) -> FakeValidation:
        module = self.get(module_id)
        full = {k: v.get("default") for k, v in module.schema["properties"].items() if "default" in v}
        full.update(config)
        errors: list[FakeFieldError] = []
        validator = jsonschema.Draft202012Validator(module.schema)
        for err in validator.iter_errors(full):
            if err.validator == "required":
                missing = err.message.split("'")[1]
                errors.append(FakeFieldError(missing, "is required"))
            else:
                where = ".".join(str(p) for p in err.absolute_path)
                errors.append(FakeFieldError(where, err.message))
        if prod:
            for name, value in module.prod_rules.items():
                if full.get(name) != value:
                    errors.append(FakeFieldError(name, f"must be {str(value).lower()} in prod", str(value).lower()))
        return FakeValidation(not errors, full, errors)

    def presets_for(self, module_id: str, environment: str, *, prod: bool) -> list[str]:
        """Like the real registry: a preset whose values break a prod rule is not usable in prod."""
        module = self.get(module_id)
        return [
            name
            for name, values in module.presets.items()
            if not prod or all(values.get(k, v) == v for k, v in module.prod_rules.items())
        ]


@dataclass
class FakeTarget:
    owner: str
    repo: str
    base_branch: str
    env_path: str
    prod: bool
    allowed_modules: list[str] | None = None
    owner_team: str | None = None


class FakeProjects:
    def __init__(self) -> None:
        self._map = {
            "payments": {"dev": False, "prod": True},
            "core": {"dev": False, "staging": False, "prod": True},
        }

    def names(self) -> list[str]:
        return list(self._map)

    def environments(self, project: str) -> list[str]:
        return list(self._map[project])

    def target(self, project: str, environment: str) -> FakeTarget:
        prod = self._map[project][environment]
        return FakeTarget("acme", f"{project}-infra", "main", f"envs/{environment}", prod)


@dataclass
class FakeRequestService:
    """``RequestService.create/preview`` as the assistant sees them: idempotent on the key."""

    clock: ManualClock
    prod_allowed: set[str] = field(default_factory=set)
    created: dict[str, Request] = field(default_factory=dict)  # idempotency key -> request
    commands: list[Any] = field(default_factory=list)
    previews: int = 0
    fail_with: Exception | None = None

    def _check(self, cmd: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if cmd.environment == "prod" and cmd.requester.id not in self.prod_allowed:
            raise PermissionDenied("create", denial("create_prod_allowlist"))

    def create_refusal(self, requester: Any, *, prod: bool) -> Denial | None:
        if self.fail_with is not None or not prod or requester.id in self.prod_allowed:
            return None
        return denial("create_prod_allowlist")

    def preview(self, cmd: Any) -> dict[str, str]:
        self.previews += 1
        body = "\n".join(f'  {k} = "{v}"' for k, v in sorted(cmd.config.items()))
        path = f"envs/{cmd.environment}/tfpilot_{cmd.request_id}.tf"
        return {
            path: f'# tfpilot:begin {cmd.request_id}\nmodule "{cmd.module}" {{\n{body}\n}}\n# tfpilot:end {cmd.request_id}\n'
        }

    def create(self, cmd: Any) -> Request:
        self.commands.append(cmd)
        self._check(cmd)
        if cmd.idempotency_key in self.created:
            return self.created[cmd.idempotency_key]
        now = self.clock.now()
        request = Request(
            id=cmd.request_id,
            project=cmd.project,
            environment=cmd.environment,
            module=cmd.module,
            config=cmd.config,
            requester=cmd.requester,
            idempotency_key=cmd.idempotency_key,
            slack=cmd.slack,
            received_at=now,
            updated_at=now,
            pr=PullRequestRef(
                number=len(self.created) + 1,
                url=f"https://github.example/acme/{cmd.project}-infra/pull/{len(self.created) + 1}",
                open=True,
            ),
        )
        self.created[cmd.idempotency_key] = request
        return request


@dataclass
class FakeQueries:
    """``QueryService.get/list`` over the requests a ``FakeRequestService`` created."""

    requests: FakeRequestService

    def get(self, request_id: str) -> Request:
        for request in self.requests.created.values():
            if request.id == request_id:
                return request
        raise RequestNotFound(request_id)

    def list(self, filters: Any = None, limit: int = 50, cursor: str | None = None) -> Page:
        rows = [
            IndexRow(
                id=r.id,
                project=r.project,
                environment=r.environment,
                module=r.module,
                status=r.status,
                requester=r.requester.id,
                received_at=r.received_at,
                updated_at=r.updated_at,
                version=1,
            )
            for r in reversed(list(self.requests.created.values()))
            if filters is None or filters.requester in (None, r.requester.id)
        ]
        return Page(rows=rows[:limit])
