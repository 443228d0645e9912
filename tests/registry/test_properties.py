"""Property tests: arbitrary unicode in every free-text field renders to HCL that python-hcl2
parses back to exactly the input, and that ``terraform fmt -check`` accepts. Every parsed block
is compared argument for argument with what the renderer meant to write, and arbitrary unicode
in any text field either arrives unchanged or is refused with an error naming that field.

python-hcl2 cannot read an escaped ``$${`` (or ``%%{``) that has no closing ``}`` in the same
string, although Terraform does (its lexer looks for the next ``}`` anywhere in the file). For
those inputs the read-back is skipped and ``terraform fmt`` is trusted instead: every generated
file also goes through one ``terraform fmt -check`` run.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from module_registry import hcl, render, tags, validation
from module_registry.catalogue import Registry
from module_registry.definition import ModuleDefinition
from module_registry.errors import ConfigRejected
from tests.registry.conftest import REQUEST_ID, module_body, read_hcl, terraform_binary

# Every code point except surrogates (which JSON cannot carry), plus text dense in the characters
# HCL treats specially, so escapes and template sequences are exercised on every run.
TEXT = st.one_of(
    st.text(max_size=120),
    st.text(alphabet=st.sampled_from(list('${}%"\\\n\r\t\x00a\u202e\u200d')), max_size=40),
)
TAG_ALPHABET = st.one_of(st.characters(categories=("L", "N")), st.sampled_from(list(" _.:/=+-@")))
TAG_VALUES = st.text(alphabet=TAG_ALPHABET, max_size=256).filter(tags.is_tag_value)
TAG_KEYS = st.text(alphabet=TAG_ALPHABET, min_size=1, max_size=40).filter(
    lambda k: tags.is_tag_key(k) and tags.reserved_key_problem(k) is None
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)
UNCLOSED = re.compile(r"[$%]\{[^}]*\Z")
# No example database: tests never write into the work tree.
FAST = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def python_hcl2_can_read(value: Any) -> bool:
    if isinstance(value, str):
        return UNCLOSED.search(value) is None
    if isinstance(value, list):
        return all(python_hcl2_can_read(v) for v in value)
    if isinstance(value, dict):
        return all(python_hcl2_can_read(k) and python_hcl2_can_read(v) for k, v in value.items())
    return True


def same(actual: Any, expected: Any) -> bool:
    """Equality as Terraform sees it: numbers compare by value (1e20 is written 100000000000000000000)."""
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return actual == expected and type(actual) is type(expected)
    if isinstance(expected, int | float):
        if not isinstance(actual, int | float) or isinstance(actual, bool):
            return False
        return actual == expected or math.isclose(actual, expected, rel_tol=1e-15, abs_tol=0.0)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], v) for k, v in expected.items())
        )
    return False


# Two escaped openers in one token: python-hcl2 keeps it raw and the reading above must unescape
# both (found by this test; Terraform's own reading is checked in test_terraform_reads_escapes).
TWO_ESCAPES = ["%{%{}", "${${}", "%{a%{b}", "${x}%{y}"]


@FAST
@given(TEXT)
@example(TWO_ESCAPES[0])
@example(TWO_ESCAPES[1])
def test_any_text_reads_back_exactly(text: str) -> None:
    written = hcl.render_body([hcl.Attribute("v", text)])
    if not python_hcl2_can_read(text):
        event("unclosed template escape: left to terraform fmt")
        return
    assert read_hcl(written)["v"] == text


@FAST
@given(VALUES)
def test_any_value_reads_back_exactly(value: Any) -> None:
    written = hcl.render_body([hcl.Attribute("v", value)])
    if not python_hcl2_can_read(value):
        event("unclosed template escape: left to terraform fmt")
        return
    assert same(read_hcl(written)["v"], value), written


def free_text_fields(module: ModuleDefinition) -> dict[str, st.SearchStrategy[str]]:
    """String fields a person writes freely, with a strategy for each: arbitrary unicode when the
    schema puts no pattern on them, else text drawn from the pattern itself."""
    found: dict[str, st.SearchStrategy[str]] = {}
    for name, prop in module.properties().items():
        if prop.get("type") != "string" or any(k in prop for k in ("enum", "const", "format")) or name == "name":
            continue
        size = int(prop.get("maxLength", 200))
        if "pattern" not in prop:
            found[name] = st.text(max_size=min(size, 300))
        elif re.fullmatch(r"\^\[[^\]]+\]\*\$", prop["pattern"]):  # a single character class: still free text
            found[name] = st.from_regex(prop["pattern"], fullmatch=True).filter(lambda s, n=size: len(s) <= n)
    return found


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings_in(v)]]
    return []


Path_ = tuple[Any, ...]


def paths_of(value: Any, wanted: str, where: Path_ = ()) -> list[Path_]:
    """Every place in ``value`` (dict keys, list indexes) holding exactly the text ``wanted``."""
    if isinstance(value, str):
        return [where] if value == wanted else []
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in paths_of(v, wanted, (*where, i))]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths_of(v, wanted, (*where, k))]
    return []


def at(value: Any, path: Path_) -> Any:
    for part in path:
        value = value[part]
    return value


def assert_block_reads_back(
    text: str, inp: render.RenderInput, registry: Registry
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parsed block equals, argument for argument, what the renderer meant to write.
    Returns (parsed body, intended arguments)."""
    body = module_body(text)
    expected = render.arguments(inp, registry)
    assert set(body) - {"source", "version"} == set(expected), (inp.module, sorted(body), sorted(expected))
    for key, value in expected.items():
        if isinstance(value, hcl.Call):  # python-hcl2 hands a call back as expression text
            assert isinstance(body[key], str) and value.name in body[key]
            continue
        assert same(body[key], value), (inp.module, key, body[key], value)
    return body, expected


def assert_value_arrives_unchanged(
    body: dict[str, Any], expected: dict[str, Any], inp: render.RenderInput, registry: Registry, field: str, value: str
) -> None:
    """The user's text is written, unchanged, to at least one argument (the composed resource
    name for the naming field); an empty text may be left out (the module's default applies)."""
    definition = registry.get(inp.module)
    wanted = value
    if definition.naming is not None and definition.naming.field == field:
        wanted = f"{inp.project}-{inp.environment}-{value}"
    places = [p for p in paths_of(expected, wanted) if p[0] not in ("tags",)]
    if not value:
        return
    assert places or any(p[0] == "tags" for p in paths_of(body, wanted)), (inp.module, field, value)
    for place in places:
        assert at(body, place) == wanted, (inp.module, field, place)


@st.composite
def module_requests(draw: st.DrawFn, registry: Registry) -> tuple[render.RenderInput, list[str]]:
    module = draw(st.sampled_from(registry.modules()))
    config = module.example_config()
    chosen: list[str] = []
    for name, strategy in free_text_fields(module).items():
        config[name] = draw(strategy)
        chosen.append(config[name])
    user_tags = draw(st.dictionaries(TAG_KEYS, TAG_VALUES, max_size=3))
    config["tags"] = user_tags
    chosen.extend([*user_tags, *user_tags.values()])
    requester = draw(TEXT)
    inp = render.RenderInput(REQUEST_ID, "core", "dev", module.id, config, "envs/dev", requester)
    return inp, chosen


def test_every_module_has_free_text_covered(registry: Registry) -> None:
    covered = {m.id: sorted(free_text_fields(m)) for m in registry.modules()}
    assert covered["ec2-instance"] == ["user_data"]
    assert covered["sns-topic"] == ["display_name"]
    assert covered["iam-role"] == ["description"]


def test_free_text_in_every_module_reads_back(registry: Registry) -> None:
    @FAST
    @given(module_requests(registry))
    def check(case: tuple[render.RenderInput, list[str]]) -> None:
        inp, chosen = case
        text = render.render_block(inp, registry)
        if not all(python_hcl2_can_read(s) for s in chosen):
            event("unclosed template escape: left to terraform fmt")
            return
        body, expected = assert_block_reads_back(text, inp, registry)
        found = strings_in(body)
        for value in chosen:
            if value:  # an empty optional text is left out on purpose (the module's default applies)
                assert value in found, (inp.module, value)
        assert body["tags"]["requester"] == (tags.sanitize_value(inp.requester) or "unknown")
        for name in free_text_fields(registry.get(inp.module)):
            assert_value_arrives_unchanged(body, expected, inp, registry, name, inp.config[name])
        user_tags = inp.config["tags"]
        assert {k: v for k, v in body["tags"].items() if k not in tags.SERVER_TAG_KEYS} == user_tags

    check()


def text_fields(module: ModuleDefinition) -> list[str]:
    """Every top-level text field, free or constrained (patterns, enums, the resource name)."""
    return [name for name, prop in module.properties().items() if prop.get("type") == "string"]


@st.composite
def any_text_field_requests(draw: st.DrawFn, registry: Registry) -> tuple[render.RenderInput, str, str]:
    """A module's example with one text field set to arbitrary unicode (or, for a patterned
    field, sometimes to text matching its pattern, so both sides of the check are exercised)."""
    module = draw(st.sampled_from([m for m in registry.modules() if text_fields(m)]))
    field = draw(st.sampled_from(text_fields(module)))
    prop = module.properties()[field]
    choices = [TEXT]
    if isinstance(prop.get("pattern"), str):
        choices.append(st.from_regex(prop["pattern"], fullmatch=True))
    if isinstance(prop.get("enum"), list):
        choices.append(st.sampled_from(prop["enum"]))
    value = draw(st.one_of(*choices))
    config = module.example_config()
    config[field] = value
    inp = render.RenderInput(REQUEST_ID, "core", "dev", module.id, config, "envs/dev", draw(TEXT))
    return inp, field, value


def test_unicode_in_any_text_field_reads_back_or_is_refused_naming_the_field(registry: Registry) -> None:
    @FAST
    @given(any_text_field_requests(registry))
    def check(case: tuple[render.RenderInput, str, str]) -> None:
        inp, field, value = case
        try:
            text = render.render_block(inp, registry)
        except ConfigRejected as exc:
            fields = [error.field for error in exc.errors]
            prop = registry.get(inp.module).properties()[field]
            if validation.compile_validator(prop).is_valid(value):
                # Valid on its own, refused by a rule across fields (a Graviton type with an
                # x86 example): the refusal still says which field and why.
                event("refused by a rule across fields")
                assert fields and all(error.message for error in exc.errors)
                return
            event("refused")
            assert any(f == field or f.startswith((f"{field}.", f"{field}[")) for f in fields), (inp.module, fields)
            return
        event("rendered")
        if not python_hcl2_can_read(value) or not python_hcl2_can_read(inp.requester):
            event("unclosed template escape: left to terraform fmt")
            return
        body, expected = assert_block_reads_back(text, inp, registry)
        prop = registry.get(inp.module).properties()[field]
        if "enum" not in prop:  # a choice may be translated ("sse-s3" becomes "AES256"); text is not
            assert_value_arrives_unchanged(body, expected, inp, registry, field, value)

    check()


def test_generated_files_pass_terraform_fmt(
    registry: Registry, tmp_path: Path, fmt_check: Callable[[Path], None]
) -> None:
    counter = iter(range(10**6))

    @settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(module_requests(registry), VALUES, any_text_field_requests(registry))
    def write(
        case: tuple[render.RenderInput, list[str]], value: Any, other: tuple[render.RenderInput, str, str]
    ) -> None:
        index = next(counter)
        inp, _ = case
        (tmp_path / f"module_{index}.tf").write_text(render.render_block(inp, registry), encoding="utf-8")
        with contextlib.suppress(ConfigRejected):
            (tmp_path / f"field_{index}.tf").write_text(render.render_block(other[0], registry), encoding="utf-8")
        raw = hcl.render_body([hcl.Block("locals", (), [hcl.Attribute("value", value)])])
        (tmp_path / f"value_{index}.tf").write_text(raw, encoding="utf-8")

    write()
    assert len(list(tmp_path.glob("*.tf"))) >= 100
    fmt_check(tmp_path)  # one terraform run over every generated file


@pytest.mark.parametrize("text", TWO_ESCAPES)
def test_terraform_reads_escapes(text: str, tmp_path: Path) -> None:
    """Terraform itself (``terraform console``) reads the rendered literal back as the input."""
    binary = terraform_binary()
    if binary is None:
        pytest.skip("terraform is not installed")
    written = hcl.render_body([hcl.Attribute("v", text)])
    literal = written.split("=", 1)[1].strip()
    result = subprocess.run(
        [binary, "console"],
        input=f"jsonencode({literal})\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout.strip())) == text
    assert read_hcl(written)["v"] == text
