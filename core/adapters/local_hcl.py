"""Reading Terraform for the local runner: python-hcl2's parse of a ``.tf`` file, its values
made readable, the resources and module calls it declares, and whether ``terraform init`` would
reach the network for it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hcl2

# Top-level blocks that do not, by themselves, make terraform download anything.
_LOCAL_ONLY_BLOCKS = frozenset({"variable", "output", "locals", "check", "moved", "removed", "import"})


@dataclass(frozen=True)
class Resource:
    """One configured object found in HCL: a managed resource or a module call."""

    address: str
    mode: str  # managed | module
    type: str
    name: str
    path: str  # the file it was found in
    values: dict[str, Any]
    provider_name: str | None = None


class HclError(Exception):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


def unquote_label(label: str) -> str:
    if len(label) >= 2 and label[0] == label[-1] == '"':
        return label[1:-1]
    return label


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _decode_string(raw: str) -> str:
    """The value of an HCL quoted string literal (python-hcl2 keeps the quotes and escapes)."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in "uU":
                width = 4 if nxt == "u" else 8
                digits = body[i + 2 : i + 2 + width]
                if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 2 + width
                    continue
        if body.startswith(("$${", "%%{"), i):
            out.append(body[i + 1 : i + 3])
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _is_plain_literal(value: str) -> bool:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return False
    # An interpolation or directive makes it an expression: keep its text as written.
    return re.search(r"(?<![$%])[$%]\{", value.replace("$${", "").replace("%%{", "")) is None


def plain_value(value: Any) -> Any:
    """python-hcl2's parsed value made readable: literals unquoted, blocks without markers."""
    if isinstance(value, str):
        return _decode_string(value) if _is_plain_literal(value) else value
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {unquote_label(str(k)): plain_value(v) for k, v in value.items() if k != "__is_block__"}
    return value


def parse_hcl(path: str, text: str) -> dict[str, Any]:
    try:
        parsed = hcl2.loads(text)
    except Exception as exc:  # lark raises a family of errors; all mean "does not parse"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclError(path, first) from exc
    if not isinstance(parsed, dict):
        raise HclError(path, "unexpected parse result")
    return parsed


def _provider_of(resource_type: str) -> str:
    return f"registry.terraform.io/hashicorp/{resource_type.split('_', 1)[0]}"


def resources_of(path: str, parsed: Mapping[str, Any]) -> list[Resource]:
    """Managed resources and module calls declared in one parsed file."""
    found: list[Resource] = []
    for block in parsed.get("resource", []) or []:
        for rtype, named in block.items():
            for rname, body in named.items():
                t, n = unquote_label(rtype), unquote_label(rname)
                found.append(Resource(f"{t}.{n}", "managed", t, n, path, plain_value(body), _provider_of(t)))
    for block in parsed.get("module", []) or []:
        for mname, body in block.items():
            n = unquote_label(mname)
            found.append(Resource(f"module.{n}", "module", "module", n, path, plain_value(body)))
    return found


def needs_download(parsed_files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Why ``terraform init`` would reach the network for this directory (empty: it would not)."""
    reasons: set[str] = set()
    for parsed in parsed_files.values():
        for key, blocks in parsed.items():
            if key.startswith("__") or key in _LOCAL_ONLY_BLOCKS:
                continue
            if key in ("resource", "data"):
                for block in blocks or []:
                    for rtype in block:
                        t = unquote_label(rtype)
                        if not t.startswith("terraform_"):
                            reasons.add(f"provider {t.split('_', 1)[0]}")
            elif key == "module":
                for block in blocks or []:
                    for mname, body in block.items():
                        source = plain_value(body.get("source", ""))
                        if not (isinstance(source, str) and source.startswith(("./", "../"))):
                            reasons.add(f"module {unquote_label(mname)} ({source})")
            elif key == "provider":
                for block in blocks or []:
                    reasons.update(f"provider {unquote_label(name)}" for name in block)
            elif key == "terraform":
                for block in blocks or []:
                    if block.get("required_providers"):
                        reasons.add("required_providers")
                    if block.get("backend"):
                        reasons.add("a backend")
    return sorted(reasons)


def output_names(parsed: Mapping[str, Any]) -> list[str]:
    return [unquote_label(name) for block in parsed.get("output", []) or [] for name in block]
