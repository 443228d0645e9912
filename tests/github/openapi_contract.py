"""A contract checker for outgoing GitHub REST requests.

It matches each request to an operation of ``fixtures/github/rest_openapi_selected_ops.json``
(method + path template), then checks path parameters, query parameters (known, required,
enums, integers), the request body (required, JSON-schema valid, no unknown top-level fields)
and the headers every call needs. The 2022 full operations give the schemas; the current
verified list adds what changed since (``return_run_details``, ``head_repo``, new query
parameters, ``merge-async``).

Some operations we call are not in the selected file; they are listed in
``SUPPLEMENTARY_OPERATIONS`` below, transcribed from github/rest-api-description
(``descriptions/api.github.com/api.github.com.json``) and flagged as such on every match. The
list is kept minimal: each entry says which call needs it, and ``test_openapi_contract`` fails
when an entry is no longer called by the adapters or is already in the selected file.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import jsonschema

SUPPLEMENT_SOURCE = "supplement: github/rest-api-description api.github.com.json (not in the selected-ops fixture)"

# Each entry was checked against GitHub's current REST description: github/rest-api-description,
# descriptions/api.github.com/api.github.com.json as stored in the search index (0000036e42b5,
# API versions up to 2026-03-10: the version the selected-ops fixture's "current" half was
# verified against): path, method, parameters and request body as transcribed here.
SUPPLEMENTARY_OPERATIONS: list[dict[str, Any]] = [
    {
        # git/get-commit. GitHubCodeHost reads a commit object for: the parent's tree (base_tree)
        # of a git data API commit (deletions, several files), the landed-retry check (is the
        # branch head a commit right on the expected parent?) of both commit paths, and the
        # update-branch check during a merge. Current description: path parameters owner, repo,
        # commit_sha; no query, no body; 200 git-commit, 404, 409.
        "method": "GET",
        "path": "/repos/{owner}/{repo}/git/commits/{commit_sha}",
        "operationId": "git/get-commit",
        "parameters": [
            {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "repo", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "commit_sha", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "requestBody": None,
    },
    {
        # issues/add-labels. open_pull_request labels the PR (pulls/create takes no labels).
        # Current description: path parameters owner, repo, issue_number; optional body, a oneOf
        # whose first (recommended) form is {"labels": [...], minItems 1}, items string or
        # {name, ...}; 200, 301, 404, 410, 422.
        "method": "POST",
        "path": "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        "operationId": "issues/add-labels",
        "parameters": [
            {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "repo", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "issue_number", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        # The description's oneOf; we only ever send its first, recommended form.
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"labels": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
                    }
                }
            },
        },
    },
    {
        # apps/get-repo-installation. GitHubAppAuth finds the installation of a repository's
        # account once when GITHUB_APP_INSTALLATION_ID is not set; it must be called with the App
        # JWT. Current description: path parameters owner, repo; no query, no body; 200
        # installation, 301, 404.
        "method": "GET",
        "path": "/repos/{owner}/{repo}/installation",
        "operationId": "apps/get-repo-installation",
        "parameters": [
            {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "repo", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "requestBody": None,
    },
]


def _owner_repo(*more: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "repo", "in": "path", "required": True, "schema": {"type": "string"}},
        *more,
    ]


_BRANCH = {"name": "branch", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGING = (
    {"name": "per_page", "in": "query", "required": False, "schema": {"type": "integer"}},
    {"name": "page", "in": "query", "required": False, "schema": {"type": "integer"}},
)

# Base-branch protection and the `tfpilot doctor` checks (transcribed from the same
# description, descriptions/api.github.com/api.github.com.json, for API version 2022-11-28).
SUPPLEMENTARY_OPERATIONS += [
    {
        # repos/get-branch-protection. GitHubCodeHost.branch_protection reads classic protection
        # (required approving reviews, bypass allowances, required checks). Path owner, repo,
        # branch; no query, no body; 200 branch-protection, 404 ("Branch not protected").
        "method": "GET",
        "path": "/repos/{owner}/{repo}/branches/{branch}/protection",
        "operationId": "repos/get-branch-protection",
        "parameters": _owner_repo(_BRANCH),
        "requestBody": None,
    },
    {
        # repos/get-branch-rules. The active ruleset rules of the base branch (pull_request's
        # required_approving_review_count, required_status_checks). Path owner, repo, branch;
        # query per_page, page; 200 array of rules.
        "method": "GET",
        "path": "/repos/{owner}/{repo}/rules/branches/{branch}",
        "operationId": "repos/get-branch-rules",
        "parameters": _owner_repo(_BRANCH, *_PAGING),
        "requestBody": None,
    },
    {
        # repos/get-repo-ruleset. For a ruleset requiring reviews: current_user_can_bypass says
        # whether the app may merge without them. Path owner, repo, ruleset_id (integer); query
        # includes_parents (boolean); 200 repository-ruleset, 404, 500.
        "method": "GET",
        "path": "/repos/{owner}/{repo}/rulesets/{ruleset_id}",
        "operationId": "repos/get-repo-ruleset",
        "parameters": _owner_repo(
            {"name": "ruleset_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "includes_parents", "in": "query", "required": False, "schema": {"type": "boolean"}},
        ),
        "requestBody": None,
    },
    {
        # repos/get. `tfpilot doctor`: the infra repo exists and the app reads it (its
        # permissions for a token). Path owner, repo; 200 full-repository, 301, 403, 404.
        "method": "GET",
        "path": "/repos/{owner}/{repo}",
        "operationId": "repos/get",
        "parameters": _owner_repo(),
        "requestBody": None,
    },
    {
        # repos/list-webhooks. `tfpilot doctor` with a token: which events the repo's hooks send.
        # Path owner, repo; query per_page, page; 200 array of hooks, 404.
        "method": "GET",
        "path": "/repos/{owner}/{repo}/hooks",
        "operationId": "repos/list-webhooks",
        "parameters": _owner_repo(*_PAGING),
        "requestBody": None,
    },
]

# Operations that must authenticate as the App (JWT), per the description.
JWT_OPERATIONS = frozenset({"apps/create-installation-access-token", "apps/get-repo-installation"})
# Path parameters whose allowed values the description states in prose only.
PATH_ENUMS = {"archive_format": {"zip"}}
MULTI_SEGMENT_NAMES = frozenset({"ref", "path"})
REQUIRED_HEADERS = {"accept": "application/vnd.github+json", "x-github-api-version": "2022-11-28"}


class ContractViolation(AssertionError):
    """A request our code sent does not conform to GitHub's REST description."""


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    source: str
    path_params: list[str]
    integer_params: set[str] = field(default_factory=set)
    multi_segment: set[str] = field(default_factory=set)
    query_params: set[str] = field(default_factory=set)
    required_query: set[str] = field(default_factory=set)
    query_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    body_schema: dict[str, Any] | None = None
    body_required: bool = False
    body_properties: set[str] = field(default_factory=set)
    regex: re.Pattern[str] = field(default=re.compile(""))

    def compile(self) -> None:
        pattern = ""
        for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", self.path):
            pattern += re.escape(literal)
            if name:
                pattern += f"(?P<{name}>.+)" if name in self.multi_segment else f"(?P<{name}>[^/]+)"
        self.regex = re.compile(f"^{pattern}$")

    @property
    def specificity(self) -> tuple[int, int]:
        literal = len(re.sub(r"\{\w+\}", "", self.path))
        return (-len(self.multi_segment), literal)


@dataclass
class CheckedCall:
    operation_id: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    source: str


def _openapi_to_jsonschema(schema: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` -> JSON Schema type lists; drop prose."""
    if isinstance(schema, list):
        return [_openapi_to_jsonschema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: _openapi_to_jsonschema(v)
        for k, v in schema.items()
        if k not in ("description", "example", "examples", "x-resolved-from", "nullable", "title")
    }
    if schema.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


_PARAM_RE = re.compile(r"^(\w+)\((\w+)")
_LOOSE_TYPES = {"string", "boolean", "integer", "array", "object"}


class OpenApiSpec:
    """The operations we may call, built once from the shared fixture."""

    def __init__(self, fixture: Path) -> None:
        data = json.loads(fixture.read_text())
        self.operations: list[Operation] = []
        current = {(o["method"], o["path"]): o for o in data["operations_current_verified"]}
        seen: set[tuple[str, str]] = set()
        for op in data["operations_2022_full"]:
            key = (op["method"], op["path"])
            seen.add(key)
            self.operations.append(self._from_full(op, current.get(key), "fixture 2022 + current"))
        for key, op in current.items():
            if key not in seen:
                self.operations.append(self._from_compact(op))
        for op in SUPPLEMENTARY_OPERATIONS:
            self.operations.append(self._from_full(op, None, SUPPLEMENT_SOURCE))
        for op in self.operations:
            op.compile()

    @staticmethod
    def _from_full(op: dict[str, Any], cur: dict[str, Any] | None, source: str) -> Operation:
        result = Operation(
            method=op["method"], path=op["path"], operation_id=op["operationId"], source=source, path_params=[]
        )
        for param in op.get("parameters") or []:
            schema = param.get("schema") or {}
            if param["in"] == "path":
                result.path_params.append(param["name"])
                if schema.get("type") == "integer":
                    result.integer_params.add(param["name"])
                if param.get("x-multi-segment") or param["name"] in MULTI_SEGMENT_NAMES:
                    result.multi_segment.add(param["name"])
            elif param["in"] == "query":
                result.query_params.add(param["name"])
                result.query_schemas[param["name"]] = schema
                if param.get("required"):
                    result.required_query.add(param["name"])
        body = op.get("requestBody")
        if body:
            schema = body["content"]["application/json"]["schema"]
            result.body_schema = _openapi_to_jsonschema(copy.deepcopy(schema))
            result.body_required = bool(body.get("required"))
            result.body_properties = set((schema.get("properties") or {}).keys())
        if cur is not None:
            OpenApiSpec._merge_current(result, cur)
        return result

    @staticmethod
    def _merge_current(result: Operation, cur: dict[str, Any]) -> None:
        """Add what the current description has that the 2022 one lacks."""
        for text in cur.get("parameters") or []:
            match = _PARAM_RE.match(text)
            if match and match.group(2) == "query":
                result.query_params.add(match.group(1))
        body = cur.get("requestBody") or {}
        props = body.get("properties") or {}
        for name, described in props.items():
            if name in result.body_properties:
                continue
            result.body_properties.add(name)
            kind = str(described).split(" ", 1)[0]
            if result.body_schema is not None:
                result.body_schema.setdefault("properties", {})[name] = {"type": kind} if kind in _LOOSE_TYPES else {}
        if result.operation_id == "actions/create-workflow-dispatch" and result.body_schema is not None:
            # Current description: inputs maxProperties 25 (was 10), additionalProperties true.
            result.body_schema["properties"]["inputs"] = {"type": "object", "maxProperties": 25}

    @staticmethod
    def _from_compact(cur: dict[str, Any]) -> Operation:
        result = Operation(
            method=cur["method"],
            path=cur["path"],
            operation_id=cur["operationId"],
            source="fixture current only",
            path_params=re.findall(r"\{(\w+)\}", cur["path"]),
        )
        result.multi_segment = {p for p in result.path_params if p in MULTI_SEGMENT_NAMES}
        for text in cur.get("parameters") or []:
            match = _PARAM_RE.match(text)
            if match and match.group(2) == "query":
                result.query_params.add(match.group(1))
        body = cur.get("requestBody")
        if body:
            result.body_required = bool(body.get("required"))
            result.body_properties = set((body.get("properties") or {}).keys())
            result.body_schema = {"type": "object", "required": list(body.get("required_props") or [])}
        return result

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        found = [(op, m.groupdict()) for op in self.operations if op.method == method and (m := op.regex.match(path))]
        if not found:
            return None
        return max(found, key=lambda item: item[0].specificity)


class OpenApiChecker:
    """Checks requests against ``OpenApiSpec``; records every checked call."""

    def __init__(self, spec: OpenApiSpec, base_url: str) -> None:
        self.spec = spec
        self.base = urlsplit(base_url.rstrip("/"))
        self.calls: list[CheckedCall] = []
        self.external: list[str] = []
        self.violations: list[str] = []

    def operation_ids(self) -> list[str]:
        return [c.operation_id for c in self.calls]

    def check(self, request: httpx.Request) -> CheckedCall | None:
        """The matched call, or None for a request to another host (a signed artifact URL)."""
        url = request.url
        if url.host != self.base.hostname or (url.scheme != self.base.scheme):
            self.external.append(url.host)
            return None
        try:
            return self._check(request)
        except ContractViolation as exc:
            self.violations.append(str(exc))
            raise

    def _check(self, request: httpx.Request) -> CheckedCall:
        raw_path = request.url.raw_path.decode().split("?", 1)[0]
        if not raw_path.startswith(self.base.path + "/"):
            raise ContractViolation(f"{request.method} {raw_path} is outside the API base path {self.base.path!r}")
        path = raw_path[len(self.base.path) :]
        matched = self.spec.match(request.method, path)
        where = f"{request.method} {path}"
        if matched is None:
            raise ContractViolation(f"{where} matches no operation of the REST description")
        op, params = matched
        for name in op.path_params:
            value = unquote(params.get(name) or "")
            if not value:
                raise ContractViolation(f"{where}: path parameter {name} is empty")
            if name in op.integer_params and not value.isdigit():
                raise ContractViolation(f"{where}: path parameter {name}={value!r} must be an integer")
            if name in PATH_ENUMS and value not in PATH_ENUMS[name]:
                raise ContractViolation(f"{where}: {name}={value!r} must be one of {sorted(PATH_ENUMS[name])}")
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        self._check_query(where, op, query)
        body = self._check_body(where, op, request)
        self._check_headers(where, op, request)
        call = CheckedCall(op.operation_id, request.method, op.path, query, body, op.source)
        self.calls.append(call)
        return call

    @staticmethod
    def _check_query(where: str, op: Operation, query: dict[str, str]) -> None:
        for name in op.required_query - query.keys():
            raise ContractViolation(f"{where}: required query parameter {name} is missing")
        for name, value in query.items():
            if name not in op.query_params:
                raise ContractViolation(f"{where}: unknown query parameter {name!r} ({op.operation_id})")
            schema = op.query_schemas.get(name) or {}
            if "enum" in schema and value not in schema["enum"]:
                raise ContractViolation(f"{where}: {name}={value!r} not in {schema['enum']}")
            if schema.get("type") == "integer" and not value.isdigit():
                raise ContractViolation(f"{where}: {name}={value!r} must be an integer")
            if schema.get("type") == "boolean" and value not in ("true", "false"):
                raise ContractViolation(f"{where}: {name}={value!r} must be true or false")

    @staticmethod
    def _check_body(where: str, op: Operation, request: httpx.Request) -> Any:
        content = request.content
        if not content:
            if op.body_required:
                raise ContractViolation(f"{where}: the request body is required ({op.operation_id})")
            return None
        if op.body_schema is None:
            raise ContractViolation(f"{where}: {op.operation_id} takes no request body")
        if "application/json" not in request.headers.get("content-type", ""):
            raise ContractViolation(f"{where}: a JSON body needs Content-Type: application/json")
        body = json.loads(content)
        try:
            jsonschema.validate(body, op.body_schema)
        except jsonschema.ValidationError as exc:
            raise ContractViolation(f"{where}: body does not match {op.operation_id}: {exc.message}") from None
        if isinstance(body, dict) and op.body_properties:
            unknown = set(body) - op.body_properties
            if unknown:
                raise ContractViolation(f"{where}: unknown body field(s) {sorted(unknown)} for {op.operation_id}")
        return body

    @staticmethod
    def _check_headers(where: str, op: Operation, request: httpx.Request) -> None:
        for name, expected in REQUIRED_HEADERS.items():
            if request.headers.get(name) != expected:
                raise ContractViolation(f"{where}: header {name} must be {expected!r}")
        if not request.headers.get("user-agent"):
            raise ContractViolation(f"{where}: GitHub requires a User-Agent header")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ContractViolation(f"{where}: missing bearer Authorization")
        is_jwt = auth[7:].count(".") == 2
        if op.operation_id in JWT_OPERATIONS and not is_jwt:
            raise ContractViolation(f"{where}: {op.operation_id} must authenticate with the App JWT")

    def transport(self, handler: Any) -> httpx.MockTransport:
        """An httpx transport that checks each request, then answers with ``handler``
        (a respx router's ``handler`` or any ``Request -> Response`` callable)."""

        def handle(request: httpx.Request) -> httpx.Response:
            self.check(request)
            response: httpx.Response = handler(request)
            return response

        return httpx.MockTransport(handle)

    def assert_clean(self) -> None:
        if self.violations:
            raise ContractViolation("contract violations:\n" + "\n".join(self.violations))
