"""The HCL writer: literals only, escapes, numbers, identifiers, and terraform fmt layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from module_registry import hcl
from module_registry.hcl import Attribute, Blank, Block, Call, Comment, HclError, Reference
from tests.registry.conftest import read_hcl


def doc(value: hcl.Value) -> str:
    return hcl.render_body([Attribute("v", value)])


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak\r\ttab", '"line\\nbreak\\r\\ttab"'),
        ("${var.secret}", '"$${var.secret}"'),
        ("%{ if true }x%{ endif }", '"%%{ if true }x%%{ endif }"'),
        ("$${already}", '"$$${already}"'),
        ("a$b%c{d}", '"a$b%c{d}"'),
        ("nul\x00bell\x07del\x7f", '"nul\\u0000bell\\u0007del\\u007f"'),
        ("bidi\u202eoverride", '"bidi\\u202eoverride"'),
        ("tag\U000e0041char", '"tag\\U000e0041char"'),
        ("héllo wörld 日本 🚀", '"héllo wörld 日本 🚀"'),
        ("", '""'),
    ],
)
def test_quote_escapes_everything_terraform_would_interpret(text: str, literal: str) -> None:
    assert hcl.quote(text) == literal


@pytest.mark.parametrize(
    "text",
    ["${x}", "%{x}", 'a"b', "a\\b", "\n\r\t", "$${x}", "$$${x}", "%%{x}", "\x00\x1b", "\u2028\u2029", "😀\u200d😀"],
)
def test_quoted_text_reads_back_unchanged(text: str) -> None:
    assert read_hcl(doc(text))["v"] == text


def test_unpaired_surrogate_is_refused() -> None:
    with pytest.raises(HclError):
        hcl.quote("bad\ud800")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-3, "-3"),
        (12345678901234567890, "12345678901234567890"),
        (1.5, "1.5"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "0.00000015"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
    ],
)
def test_scalars(value: hcl.Value, text: str) -> None:
    assert hcl.scalar(value) == text
    assert read_hcl(doc(value))["v"] == value


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(HclError):
        hcl.number(bad)


def test_collections_layout_and_read_back() -> None:
    value = {
        "short": 1,
        "a_much_longer_key": "x",
        "nested": {"k": [1, 2], "deeper": {"z": None}},
        "list_of_objects": [{"id": "a"}, {"id": "b", "n": [["x"]]}],
        "empty_list": [],
        "empty_map": {},
        "managed-by": "tfpilot",
        "for": "keyword keys are quoted",
    }
    text = doc(value)
    assert text == (
        "v = {\n"
        "  short             = 1\n"
        '  a_much_longer_key = "x"\n'
        "  nested = {\n"
        "    k = [1, 2]\n"
        "    deeper = {\n"
        "      z = null\n"
        "    }\n"
        "  }\n"
        "  list_of_objects = [\n"
        "    {\n"
        '      id = "a"\n'
        "    },\n"
        "    {\n"
        '      id = "b"\n'
        "      n = [\n"
        '        ["x"],\n'
        "      ]\n"
        "    },\n"
        "  ]\n"
        "  empty_list   = []\n"
        "  empty_map    = {}\n"
        '  "managed-by" = "tfpilot"\n'
        '  "for"        = "keyword keys are quoted"\n'
        "}\n"
    )
    assert read_hcl(text)["v"] == value


def test_long_scalar_lists_are_written_one_item_per_line() -> None:
    items = [f"item-number-{i:03d}" for i in range(10)]
    text = doc(items)
    assert text.startswith("v = [\n") and text.count("\n") == 12
    assert read_hcl(text)["v"] == items


def test_non_ascii_keys_are_set_apart_so_alignment_never_depends_on_grapheme_width() -> None:
    text = doc({"a": 1, "clé": 2, "bb": 3, "日本": 4, "ccc": 5})
    assert text == 'v = {\n  a = 1\n\n  "clé" = 2\n\n  bb = 3\n\n  "日本" = 4\n\n  ccc = 5\n}\n'


def test_keys_with_template_sequences_are_escaped() -> None:
    text = doc({"${k}": "v"})
    assert '"$${k}" = "v"' in text
    assert read_hcl(text)["v"] == {"${k}": "v"}


def test_block_attributes_are_identifiers_never_quoted() -> None:
    with pytest.raises(HclError):
        hcl.render_body([Attribute("bad name", 1)])
    with pytest.raises(HclError):
        hcl.render_body([Block("module", ('bad"label',), [])])
    with pytest.raises(HclError):
        hcl.render_body([Block("mod ule", (), [])])
    with pytest.raises(HclError):
        Reference(("module", "x;rm -rf /"))


def test_comments_must_be_one_printable_line() -> None:
    with pytest.raises(HclError):
        hcl.render_body([Comment("two\nlines")])


def test_only_allowed_functions_are_called() -> None:
    with pytest.raises(HclError):
        Call("file", ("/etc/passwd",))
    assert doc(Call("jsonencode", ({"a": 1},))) == "v = jsonencode({\n  a = 1\n})\n"
    assert doc(Call("jsonencode", ([1, 2],))) == "v = jsonencode([1, 2])\n"


def test_block_layout_aligns_runs_split_by_blank_lines_and_multiline_values() -> None:
    text = hcl.render_body(
        [
            Comment("begin"),
            Block(
                "module",
                ("m",),
                [
                    Attribute("source", "x/y/aws"),
                    Attribute("version", "1.0.0"),
                    Blank(),
                    Attribute("a", 1),
                    Attribute("longer_name", 2),
                    Attribute("obj", {"k": 1}),
                    Attribute("after", Reference(("module", "m", "out"))),
                ],
            ),
            Comment("end"),
        ]
    )
    assert text == (
        "# begin\n"
        'module "m" {\n'
        '  source  = "x/y/aws"\n'
        '  version = "1.0.0"\n'
        "\n"
        "  a           = 1\n"
        "  longer_name = 2\n"
        "  obj = {\n"
        "    k = 1\n"
        "  }\n"
        "  after = module.m.out\n"
        "}\n"
        "# end\n"
    )


def test_writer_output_passes_terraform_fmt(tmp_path: Path, fmt_check: Callable[[Path], None]) -> None:
    samples = {
        "scalars": {"s": 'q"\\${x}%{y}\n', "n": -1.25, "b": True, "z": None},
        "nested": {"list": [{"a": [1, {"b": {}}]}, [], ["x", "y"]], "clé": "v", "k": "w"},
        "long": {"items": [f"value-{i}" for i in range(20)]},
        "call": {"policy": Call("jsonencode", ({"rules": [{"n": 1}]},))},
    }
    for name, value in samples.items():
        body: list[hcl.BodyItem] = [Attribute("value", value), Attribute(name, 1)]
        (tmp_path / f"{name}.tf").write_text(hcl.render_body([Block("locals", (), body)]), encoding="utf-8")
    fmt_check(tmp_path)
