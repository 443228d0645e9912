"""``tfpilot registry list|show|validate|import``: inspect, check and extend the module registry.

The registry comes from ``--modules-dir`` or ``TFPILOT_MODULES_DIR`` (built-in modules when
neither is set), the projects map from ``--projects-file`` or ``TFPILOT_PROJECTS_FILE`` (the
shipped example otherwise). Every command takes ``--json``; a broken registry, an unknown module
or an import failure exits 1 with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.settings import SettingsError, load_settings
from module_registry import catalogue, importer, projects, render
from module_registry.errors import ModuleRegistryError

EXAMPLE_REQUEST_ID = "req_registrycheck"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("registry", help="list, show, validate or import module definitions")
    commands = parser.add_subparsers(dest="registry_command", metavar="SUBCOMMAND", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--modules-dir", type=Path, help="module definitions directory (default: TFPILOT_MODULES_DIR)")
        sub.add_argument("--json", action="store_true", help="machine-readable output")

    listing = commands.add_parser("list", help="list the modules")
    common(listing)
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="show one module: fields, presets, policy, Terraform")
    show.add_argument("module_id", metavar="ID")
    common(show)
    show.set_defaults(func=run_show)

    check = commands.add_parser("validate", help="meta-validate every definition and the projects map")
    common(check)
    check.add_argument("--projects-file", type=Path, help="projects map (default: TFPILOT_PROJECTS_FILE)")
    check.set_defaults(func=run_validate)

    imp = commands.add_parser("import", help="turn a Terraform module's variables into a module definition")
    imp.add_argument("module_dir", metavar="MODULE_DIR", type=Path)
    imp.add_argument("--id", dest="module_id", help="module id (default: from the directory name)")
    imp.add_argument("--source", help="module source the infra repo uses (default: MODULE_DIR)")
    imp.add_argument("--version", dest="module_version", help="exact module version (needed for registry sources)")
    imp.add_argument("--title", help="human title (default: from the id)")
    imp.add_argument("--out", type=Path, help="write the definition here instead of standard output")
    imp.add_argument("--json", action="store_true", help="print definition and findings as one JSON document")
    imp.set_defaults(func=run_import)


def _fail(args: argparse.Namespace, message: str, **extra: Any) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": message, **extra}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return 1


def _modules_dir(args: argparse.Namespace) -> Path | None:
    explicit: Path | None = getattr(args, "modules_dir", None)
    return explicit if explicit is not None else load_settings().modules_dir


def _load(args: argparse.Namespace) -> catalogue.Registry:
    return catalogue.load_registry(_modules_dir(args))


def run_list(args: argparse.Namespace) -> int:
    try:
        registry = _load(args)
    except (ModuleRegistryError, SettingsError) as exc:
        return _fail(args, str(exc))
    if args.json:
        print(json.dumps({"ok": True, "modules": [m.summary() for m in registry.modules()]}, indent=2))
        return 0
    width = max(len(m.id) for m in registry.modules())
    for module in registry.modules():
        print(f"{module.id.ljust(width)}  {module.category:<11} {module.title}")
    return 0


def _show_text(module: Any, in_production: list[str]) -> None:
    spec = module.terraform
    print(f"{module.id}: {module.title} ({module.category})")
    print(f"  {module.description}")
    where = f"{spec.source} {spec.version}" if spec.kind == "module" else f"resource {spec.resource_type}"
    print(f"  terraform: {where}")
    if module.keywords or module.synonyms:
        print(f"  words: {', '.join([*module.keywords, *module.synonyms])}")
    print("  fields:")
    for field in module.fields():
        flags = (
            "required"
            if field.required
            else (f"default {json.dumps(field.default)}" if field.has_default else "optional")
        )
        choices = f"; one of {', '.join(map(str, field.enum))}" if field.enum else ""
        print(f"    {field.name} ({field.type}, {flags}{choices}): {field.description}")
    if module.presets:
        print("  presets:")
        for name, values in module.presets.items():
            note = module.preset_descriptions.get(name, "")
            if name not in in_production:
                note = (note + " " if note else "") + "(not offered in production)"
            print(f"    {name}: {json.dumps(values, sort_keys=True)}{'  ' + note if note else ''}")
    if module.constraints:
        print("  policy:")
        for constraint in module.constraints:
            scope = (
                constraint.applies_to if isinstance(constraint.applies_to, str) else ", ".join(constraint.applies_to)
            )
            print(f"    [{scope}] {constraint.field}: {constraint.message}")
    if module.naming is not None:
        print(f"  naming: <project>-<environment>-<{module.naming.field}> ({module.naming.rule} rules)")
    if module.outputs:
        print(f"  outputs: {', '.join(o.name for o in module.outputs)}")


def run_show(args: argparse.Namespace) -> int:
    try:
        registry = _load(args)
        module = registry.get(args.module_id)
    except (ModuleRegistryError, SettingsError) as exc:
        return _fail(args, str(exc))
    in_production = registry.presets_for(module.id, "prod", prod=True)
    if args.json:
        doc = module.model_dump(by_alias=True, mode="json")
        doc["fields"] = [f.model_dump(by_alias=True, mode="json") for f in module.fields()]
        doc["presets_in_production"] = in_production
        print(json.dumps({"ok": True, "module": doc}, indent=2))
    else:
        _show_text(module, in_production)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        # Every check, even on the built-in definitions the test suite checked (module_registry.checked).
        registry = catalogue.load_registry(args.modules_dir or settings.modules_dir, trust_checked=False)
        projects_file = args.projects_file or settings.projects_file
        projs = projects.load_projects(projects_file, known_modules=registry.ids())
    except (ModuleRegistryError, SettingsError) as exc:
        return _fail(args, str(exc))
    # Every definition must also render its own example config (catches inputs that evaluate
    # into something the writer refuses).
    problems: list[str] = []
    notes: list[str] = []
    for module in registry.modules():
        missing = [name for name in module.required_fields() if name not in module.example_config()]
        if module.example is None and missing:
            # Typical of a fresh import: nothing to render until someone writes an example.
            notes.append(
                f"{module.id}: not rendered: no example config (required fields without an example: "
                f'{", ".join(missing)}); add an "example" to the definition'
            )
            continue
        inp = render.RenderInput(
            request_id=EXAMPLE_REQUEST_ID,
            project="example",
            environment="dev",
            module=module.id,
            config=module.example_config(),
            env_path="envs/dev",
            requester="registry-check",
        )
        try:
            render.render(inp, registry)
        except ModuleRegistryError as exc:
            problems.append(f"{module.id}: its example config does not render: {exc}")
    if problems:
        return _fail(args, "; ".join(problems), problems=problems)
    summary = {
        "ok": True,
        "modules": registry.ids(),
        "modules_dir": registry.source,
        "projects_file": projs.source,
        "projects": projs.names(),
        "notes": notes,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"registry ok: {len(registry)} modules from {registry.source}")
        print(f"projects ok: {', '.join(projs.names())} from {projs.source}")
        for note in notes:
            print(f"note: {note}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    try:
        result = importer.import_module(
            args.module_dir,
            module_id=args.module_id,
            source=args.source,
            version=args.module_version,
            title=args.title,
        )
    except ModuleRegistryError as exc:
        return _fail(args, str(exc))
    text = json.dumps(result.definition, indent=2, ensure_ascii=False) + "\n"
    if args.out is not None:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(args, f"cannot write {args.out}: {exc.strerror or exc}")
    if args.json:
        doc = {"ok": True, **result.to_doc()}
        if args.out is not None:
            doc["written"] = str(args.out)
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    if args.out is None:
        sys.stdout.write(text)
    stream = sys.stderr
    print(
        f"imported {len(result.definition['schema']['properties'])} of {len(result.variables)} variables", file=stream
    )
    for finding in result.unmapped:
        print(f"not mapped: {finding.text()}", file=stream)
    for finding in result.notes:
        print(f"note: {finding.text()}", file=stream)
    return 0
