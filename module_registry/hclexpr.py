"""A small parser for the HCL expressions the importer reads: type constraints
(``list(object({a = optional(string, "x")}))``) and validation conditions
(``can(regex("^[a-z]+$", var.name)) && length(var.name) <= 63``).

python-hcl2 hands these back as source text; parsing them into a tiny AST here keeps the
importer independent of python-hcl2's internal tree. Anything outside the subset (templates
with interpolation, splats, heredocs) raises ``ExprError`` and the importer reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|=>|\.\.\.|[()\[\]{},.=:?!<>+\-*/%])
  | (?P<quote>")
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class ExprError(ValueError):
    """The text is outside the supported expression subset."""


@dataclass(frozen=True)
class Tok:
    kind: str  # number, ident, op, string, end
    value: Any


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Decode a quoted template starting after its opening quote; interpolation is refused."""
    out: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(out), index + 1
        if char == "\\":
            marker = text[index + 1 : index + 2]
            if marker in _ESCAPES:
                out.append(_ESCAPES[marker])
                index += 2
                continue
            width = {"u": 4, "U": 8}.get(marker)
            if width is not None:
                digits = text[index + 2 : index + 2 + width]
                if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    index += 2 + width
                    continue
            raise ExprError(f"unsupported escape \\{marker}")
        if text.startswith("$${", index) or text.startswith("%%{", index):
            out.append(char + "{")
            index += 3
            continue
        if text.startswith("${", index) or text.startswith("%{", index):
            raise ExprError("string templates with interpolation are not supported")
        out.append(char)
        index += 1
    raise ExprError("unterminated string")


def tokenize(text: str) -> list[Tok]:
    tokens: list[Tok] = []
    index = 0
    while index < len(text):
        match = _TOKEN_RE.match(text, index)
        if match is None:
            raise ExprError(f"unexpected character {text[index]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind == "ws":
            index = match.end()
            continue
        if kind == "quote":
            value, index = _read_string(text, match.end())
            tokens.append(Tok("string", value))
            continue
        raw = match.group()
        if kind == "number":
            tokens.append(Tok("number", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        else:
            tokens.append(Tok(kind, raw))
        index = match.end()
    tokens.append(Tok("end", None))
    return tokens


# AST nodes are tuples: ("lit", v) ("ref", (names...)) ("index", base, key) ("call", name, [args])
# ("list", [items]) ("object", [(key, value)]) ("binop", op, a, b) ("unary", op, a)
# ("cond", c, a, b) ("for", key_var, value_var, collection, body)
Node = tuple[Any, ...]

_BINARY_LEVELS: list[tuple[str, ...]] = [
    ("||",),
    ("&&",),
    ("==", "!="),
    ("<", "<=", ">", ">="),
    ("+", "-"),
    ("*", "/", "%"),
]


class _Parser:
    def __init__(self, tokens: list[Tok]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Tok:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> Tok:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok.kind in ("op", "ident") and tok.value == value:
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise ExprError(f"expected {value!r}, found {self.peek().value!r}")

    def expression(self) -> Node:
        cond = self.binary(0)
        if self.accept("?"):
            then = self.expression()
            self.expect(":")
            other = self.expression()
            return ("cond", cond, then, other)
        return cond

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek().kind == "op" and self.peek().value in _BINARY_LEVELS[level]:
            op = self.take().value
            right = self.binary(level + 1)
            left = ("binop", op, left, right)
        return left

    def unary(self) -> Node:
        if self.peek().kind == "op" and self.peek().value in ("!", "-"):
            op = self.take().value
            operand = self.unary()
            if op == "-" and operand[0] == "lit" and isinstance(operand[1], int | float):
                return ("lit", -operand[1])
            return ("unary", op, operand)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("."):
                tok = self.take()
                if tok.kind not in ("ident", "number"):
                    raise ExprError("expected an attribute name after '.'")
                if node[0] == "ref":
                    node = ("ref", (*node[1], str(tok.value)))
                else:
                    node = ("index", node, ("lit", str(tok.value)))
            elif self.peek().kind == "op" and self.peek().value == "[":
                self.take()
                if self.peek().value == "*":
                    raise ExprError("splat expressions are not supported")
                key = self.expression()
                self.expect("]")
                node = ("index", node, key)
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("number", "string"):
            return ("lit", tok.value)
        if tok.kind == "ident":
            if tok.value in ("true", "false"):
                return ("lit", tok.value == "true")
            if tok.value == "null":
                return ("lit", None)
            if self.accept("("):
                args: list[Node] = []
                while not self.accept(")"):
                    args.append(self.expression())
                    if self.accept("..."):
                        raise ExprError("argument expansion is not supported")
                    if not self.accept(","):
                        self.expect(")")
                        break
                return ("call", tok.value, args)
            return ("ref", (tok.value,))
        if tok.kind == "op" and tok.value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.value == "[":
            if self.peek().kind == "ident" and self.peek().value == "for":
                return self.for_expr("]")
            items: list[Node] = []
            while not self.accept("]"):
                items.append(self.expression())
                if not self.accept(","):
                    self.expect("]")
                    break
            return ("list", items)
        if tok.kind == "op" and tok.value == "{":
            if self.peek().kind == "ident" and self.peek().value == "for":
                return self.for_expr("}")
            pairs: list[tuple[str, Node]] = []
            while not self.accept("}"):
                key_tok = self.take()
                if key_tok.kind not in ("ident", "string"):
                    raise ExprError("object keys must be names or strings")
                if not (self.accept("=") or self.accept(":")):
                    raise ExprError("expected '=' after an object key")
                pairs.append((str(key_tok.value), self.expression()))
                self.accept(",")
            return ("object", pairs)
        raise ExprError(f"unexpected {tok.value!r}")

    def for_expr(self, closing: str) -> Node:
        self.expect("for")
        first = self.take()
        second = None
        if self.accept(","):
            second = self.take()
        self.expect("in")
        collection = self.expression()
        self.expect(":")
        body = self.expression()
        if self.accept("=>"):
            raise ExprError("object for expressions are not supported")
        if self.accept("if"):
            raise ExprError("for expressions with an if clause are not supported")
        self.expect(closing)
        key_var = first.value if second is not None else None
        value_var = second.value if second is not None else first.value
        return ("for", key_var, value_var, collection, body)


def parse(text: str) -> Node:
    """Parse one expression (a ``${...}`` wrapper, as python-hcl2 returns it, is removed)."""
    source = text.strip()
    if source.startswith("${") and source.endswith("}"):
        source = source[2:-1]
    parser = _Parser(tokenize(source))
    node = parser.expression()
    if parser.peek().kind != "end":
        raise ExprError(f"unexpected {parser.peek().value!r} after the expression")
    return node


def literal(node: Node) -> Any:
    """The Python value of a constant expression (``ExprError`` when it is not constant)."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "list":
        return [literal(item) for item in node[1]]
    if kind == "object":
        return {key: literal(value) for key, value in node[1]}
    raise ExprError("not a constant value")
