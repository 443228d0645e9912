"""Rendering: a validated request becomes one Terraform file, ``<envPath>/tfpilot_<requestId>.tf``,
holding one block between ``# tfpilot:begin <requestId>`` and ``# tfpilot:end <requestId>``.

Order of work: identifiers are checked before any path or label is built; the config is
validated (defaults applied); server tags are merged in after validation; the definition's
``inputs`` are evaluated against the config; the HCL writer emits literals only. Output is
deterministic: config objects are written with sorted keys, definition data in file order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from module_registry import hcl, identifiers, naming, tags
from module_registry.errors import ConfigRejected, InvalidName
from module_registry.result import FieldError
from module_registry.validation import name_suffix

if TYPE_CHECKING:
    from module_registry.catalogue import Registry
    from module_registry.definition import ModuleDefinition

BEGIN_MARKER = "# tfpilot:begin {request_id}"
END_MARKER = "# tfpilot:end {request_id}"


@dataclass(frozen=True)
class RenderInput:
    request_id: str
    project: str
    environment: str
    module: str
    config: dict[str, Any]
    env_path: str
    requester: str
    prod: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # reserved; ignored by the renderer
    # Where module code comes from: "registry" (the definition's source and version, for infra
    # repos on GitHub) or "repo" (the infra repo's own modules/<id>, when TfPilot ships one).
    module_sources: str = "registry"
    # Destroy-guard fields a Prepare destroy lifts to their safe values: validation lets exactly
    # these pass the prod constraints (``Registry.validate(lifting=...)``).
    lifting: tuple[str, ...] = ()


class _Omit:
    """Marks an input that is left out (the module's own default applies)."""


OMIT = _Omit()


def file_path(env_path: str, request_id: str) -> str:
    identifiers.check_env_path(env_path)
    identifiers.check_request_id(request_id)
    return f"{env_path}/tfpilot_{request_id}.tf"


def block_label(module_id: str, request_id: str) -> str:
    return f"{module_id.replace('-', '_')}_{request_id}"


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


@dataclass
class _Context:
    config: dict[str, Any]
    name: str | None
    tags: dict[str, str]
    values: dict[str, Any]
    name_stem: str | None = None  # the name without its naming suffix (``.fifo``)

    def resolve(self, ref: str) -> Any:
        if ref == "name":
            return self.name
        if ref == "name_stem":
            return self.name_stem
        if ref == "tags":
            return dict(self.tags)
        head, _, rest = ref.partition(".")
        source: Any = self.config if head == "config" else self.values if head == "context" else None
        for part in rest.split("."):
            if not isinstance(source, dict):
                return None
            source = source.get(part)
        return copy.deepcopy(source)


def _case_key(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def evaluate(expr: Any, ctx: _Context) -> Any:
    """Evaluate a definition expression; user values are substituted, never evaluated."""
    if isinstance(expr, list):
        items = [evaluate(item, ctx) for item in expr]
        return [item for item in items if item is not OMIT]
    if not isinstance(expr, dict):
        return expr
    if "$ref" in expr:
        return ctx.resolve(expr["$ref"])
    if "$literal" in expr:
        return copy.deepcopy(expr["$literal"])
    if "$omit" in expr:
        return OMIT
    if "$if" in expr:
        branch = "then" if ctx.resolve(expr["$if"]) else "else"
        return evaluate(expr[branch], ctx) if branch in expr else OMIT
    if "$case" in expr:
        key = _case_key(ctx.resolve(expr["$case"]))
        cases = expr.get("cases", {})
        if key in cases:
            return evaluate(cases[key], ctx)
        return evaluate(expr["default"], ctx) if "default" in expr else OMIT
    if "$call" in expr:
        args = [evaluate(arg, ctx) for arg in expr.get("args", [])]
        return hcl.Call(expr["$call"], tuple(arg for arg in args if arg is not OMIT))
    if "$concat" in expr:
        parts = [evaluate(item, ctx) for item in expr["$concat"]]
        if any(part is None or part is OMIT for part in parts):
            return None
        return "".join(_case_key(part) for part in parts)
    out = {}
    for key, value in expr.items():
        result = evaluate(value, ctx)
        if result is not OMIT:
            out[key] = result
    return out


def _inputs(definition: ModuleDefinition, ctx: _Context) -> list[tuple[str, Any]]:
    spec = definition.terraform
    pairs: list[tuple[str, Any]] = []
    for name, expr in spec.inputs.items():
        value = evaluate(expr, ctx)
        if value is OMIT or value is None:
            continue
        pairs.append((name, value))
    if spec.passthrough:
        used = {name for name, _ in pairs} | set(spec.inputs)
        skip = {"tags"} if spec.tags_input is not None else set()
        if definition.naming is not None:
            skip.add(definition.naming.field)
        for name, prop in definition.properties().items():
            if name in used or name in skip or name not in ctx.config:
                continue
            value = ctx.config[name]
            # A value equal to the documented default is left to the module (keeps files short
            # and lets a module upgrade move its own defaults).
            if value is None or ("default" in prop and _canonical(prop["default"]) == value):
                continue
            pairs.append((name, value))
    return pairs


def _module_body(
    definition: ModuleDefinition,
    pairs: list[tuple[str, Any]],
    merged_tags: dict[str, str] | None,
    repo_source: str | None = None,
) -> list[hcl.BodyItem]:
    spec = definition.terraform
    body: list[hcl.BodyItem] = []
    if spec.kind == "module":
        assert spec.source is not None
        if repo_source is not None:
            body.append(hcl.Attribute("source", repo_source))
        else:
            body.append(hcl.Attribute("source", spec.source))
            if spec.version is not None:
                body.append(hcl.Attribute("version", spec.version))
        body.append(hcl.Blank())
    body.extend(hcl.Attribute(name, value) for name, value in pairs)
    if merged_tags is not None and spec.tags_input is not None:
        if pairs:
            body.append(hcl.Blank())
        body.append(hcl.Attribute(spec.tags_input, dict(merged_tags)))
    return body


@dataclass(frozen=True)
class _Prepared:
    """Everything a block is written from, after every check."""

    definition: ModuleDefinition
    request_id: str
    project: str
    environment: str
    module_id: str
    pairs: list[tuple[str, Any]]
    tags: dict[str, str] | None


def _prepare(inp: RenderInput, registry: Registry) -> _Prepared:
    request_id = identifiers.check_request_id(inp.request_id)
    project = identifiers.check_project(inp.project)
    environment = identifiers.check_environment(inp.environment)
    module_id = identifiers.check_module_id(inp.module)
    identifiers.check_env_path(inp.env_path)
    if not isinstance(inp.requester, str):
        raise InvalidName("requester", str(inp.requester), "must be text")

    definition = registry.get(module_id)
    result = registry.validate(
        module_id, inp.config, environment, prod=inp.prod, project=project, lifting=list(inp.lifting)
    )
    if not result.ok:
        raise ConfigRejected(result.errors)
    config = _canonical(result.config)

    name: str | None = None
    name_stem: str | None = None
    if definition.naming is not None:
        rule = definition.naming
        suffix = name_suffix(definition, config)
        name = naming.build(project, environment, config[rule.field], rule.rule, suffix=suffix, reserve=rule.reserve)
        name_stem = name[: len(name) - len(suffix)] if suffix else name

    merged_tags: dict[str, str] | None = None
    if definition.terraform.tags_input is not None:
        server = tags.server_tags(request_id, project, environment, inp.requester)
        try:
            merged_tags = tags.merge(config.get("tags") if "tags" in definition.properties() else None, server)
        except tags.TagPolicyError as exc:
            raise ConfigRejected([FieldError(field="tags", message=str(exc))]) from exc

    ctx = _Context(
        config=config,
        name=name,
        name_stem=name_stem,
        tags=merged_tags or {},
        values={
            "project": project,
            "environment": environment,
            "request_id": request_id,
            "prod": inp.prod,
            "module": module_id,
        },
    )
    return _Prepared(definition, request_id, project, environment, module_id, _inputs(definition, ctx), merged_tags)


def repo_source(inp: RenderInput, definition: ModuleDefinition | None = None) -> str | None:
    """The module source as a path inside the infra repo, relative to the environment: for a
    definition whose source is a repo folder (``modules/<name>``, any code host), or when
    ``inp`` asks for in-repo modules and TfPilot ships one for the module."""
    from module_registry import infra_modules

    repo_path = definition.terraform.repo_path if definition is not None else None
    if repo_path is not None:
        return infra_modules.relative_to(inp.env_path, repo_path)
    if inp.module_sources != "repo" or inp.module not in infra_modules.available():
        return None
    return infra_modules.source_for(inp.module, inp.env_path)


def arguments(inp: RenderInput, registry: Registry) -> dict[str, Any]:
    """The arguments of the main block exactly as ``render_block`` writes them (``source`` and
    ``version`` aside), merged tags included; raises like ``render_block``."""
    prepared = _prepare(inp, registry)
    out = dict(prepared.pairs)
    tags_input = prepared.definition.terraform.tags_input
    if prepared.tags is not None and tags_input is not None:
        out[tags_input] = dict(prepared.tags)
    return out


def render_block(inp: RenderInput, registry: Registry) -> str:
    """The marked block (file content) for ``inp``; raises ``InvalidName`` or ``ConfigRejected``."""
    prepared = _prepare(inp, registry)
    definition, request_id, module_id = prepared.definition, prepared.request_id, prepared.module_id
    label = block_label(module_id, request_id)
    spec = definition.terraform
    body = _module_body(definition, prepared.pairs, prepared.tags, repo_source(inp, definition))
    if spec.kind == "module":
        main = hcl.Block("module", (label,), body)
        prefix: tuple[str, ...] = ("module", label)
    else:
        assert spec.resource_type is not None
        main = hcl.Block("resource", (spec.resource_type, label), body)
        prefix = (spec.resource_type, label)

    where = f"{prepared.project}/{prepared.environment}"
    items: list[hcl.BodyItem] = [
        hcl.Comment(BEGIN_MARKER.format(request_id=request_id)[2:]),
        hcl.Comment(f"Managed by TfPilot: {module_id} in {where}. Change it through TfPilot."),
        main,
    ]
    for output in definition.outputs:
        items.append(hcl.Blank())
        output_body: list[hcl.BodyItem] = []
        if output.description:
            output_body.append(hcl.Attribute("description", output.description))
        output_body.append(hcl.Attribute("value", hcl.Reference((*prefix, *output.value.split(".")))))
        items.append(hcl.Block("output", (f"{label}_{output.name}",), output_body))
    items.append(hcl.Comment(END_MARKER.format(request_id=request_id)[2:]))
    return hcl.render_body(items)


def render(inp: RenderInput, registry: Registry) -> dict[str, str]:
    """``{"<envPath>/tfpilot_<requestId>.tf": content}`` for a valid request."""
    content = render_block(inp, registry)
    return {file_path(inp.env_path, inp.request_id): content}


def extract_block(text: str, request_id: str) -> str | None:
    """The marked block for ``request_id`` inside ``text`` (markers included), or None."""
    identifiers.check_request_id(request_id)
    begin = BEGIN_MARKER.format(request_id=request_id)
    end = END_MARKER.format(request_id=request_id)
    start = text.find(begin + "\n")
    if start < 0:
        return None
    stop = text.find(end, start)
    if stop < 0:
        return None
    return text[start : stop + len(end)] + "\n"
