"""The small OData subset the PIM endpoints need (graph-pim-reference.md 1.2-1.4).

`$filter`: `eq` / `ne` comparisons and `in` lists (`field in ('a','b')`, at most
`MAX_IN_VALUES` values: reference 1.7) joined by `and` / `or`, with parentheses; string
literals in single quotes (`''` escapes a quote), `true`, `false`, `null`. String comparison ignores
case (Graph reads enum values without regard to case, reference 2.2). Query parameter names
are accepted as `$filter`, `%24filter` or `filter` (reference 1.2).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from reconciler.emulator.errors import GraphError, bad_request

MAX_IN_VALUES = 15
"""Values an `in` clause may list (reference 1.7: Graph's default limit; a 16th is refused
with 400 `Request_UnsupportedQuery`, the emulator's stated choice for an unseen answer)."""

_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|(?P<str>'(?:[^']|'')*')|(?P<word>[A-Za-z_][\w./]*)"
    r"|(?P<num>-?\d+(?:\.\d+)?))"
)


@dataclass(frozen=True, slots=True)
class Compare:
    """`field op value` with op `eq` or `ne`, or `field in (values)` (value: a tuple)."""

    field: str
    op: str
    value: object


@dataclass(frozen=True, slots=True)
class Logical:
    """`left and|or right`."""

    op: str
    left: Filter
    right: Filter


Filter = Compare | Logical


def query_params(raw_query: str) -> dict[str, str]:
    """Parse a query string into {name-without-$: value}, accepting `$x`, `%24x` and `x`."""
    out: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote(name)
        value = unquote(value.replace("+", " "))
        out[name.lstrip("$").lower()] = value
    return out


def parse_filter(text: str) -> Filter:
    """Parse a `$filter` expression. Raises `GraphError` 400 `BadRequest` when malformed."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise bad_request(f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    parser = _Parser(tokens, text)
    tree = parser.expr()
    if parser.i != len(tokens):
        raise bad_request(f"Invalid filter clause: unexpected token in '{text}'.")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.i = 0

    def _peek_word(self) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "word":
            return self.tokens[self.i][1].lower()
        return None

    def _fail(self) -> Exception:
        return bad_request(f"Invalid filter clause: syntax error in '{self.text}'.")

    def expr(self) -> Filter:
        left = self.term()
        while self._peek_word() == "or":
            self.i += 1
            left = Logical("or", left, self.term())
        return left

    def term(self) -> Filter:
        left = self.factor()
        while self._peek_word() == "and":
            self.i += 1
            left = Logical("and", left, self.factor())
        return left

    def factor(self) -> Filter:
        if self.i >= len(self.tokens):
            raise self._fail()
        kind, value = self.tokens[self.i]
        if kind == "lp":
            self.i += 1
            inner = self.expr()
            if self.i >= len(self.tokens) or self.tokens[self.i][0] != "rp":
                raise self._fail()
            self.i += 1
            return inner
        if kind != "word" or self.i + 2 >= len(self.tokens):
            raise self._fail()
        op = self.tokens[self.i + 1]
        if op[0] == "word" and op[1].lower() == "in":
            self.i += 2
            return Compare(value, "in", self._in_list())
        lit = self.tokens[self.i + 2]
        if op[0] != "word" or op[1].lower() not in ("eq", "ne"):
            raise bad_request(
                f"Invalid filter clause: only 'eq', 'ne' and 'in' are supported in '{self.text}'."
            )
        self.i += 3
        return Compare(value, op[1].lower(), _literal(lit, self.text))

    def _in_list(self) -> tuple[object, ...]:
        if self.i >= len(self.tokens) or self.tokens[self.i][0] != "lp":
            raise self._fail()
        self.i += 1
        values: list[object] = []
        while True:
            if self.i >= len(self.tokens):
                raise self._fail()
            values.append(_literal(self.tokens[self.i], self.text))
            self.i += 1
            if self.i < len(self.tokens) and self.tokens[self.i][0] == "comma":
                self.i += 1
                continue
            if self.i < len(self.tokens) and self.tokens[self.i][0] == "rp":
                self.i += 1
                break
            raise self._fail()
        if len(values) > MAX_IN_VALUES:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Too many values in an 'in' clause: {len(values)} (at most {MAX_IN_VALUES}).",
            )
        return tuple(values)


def _literal(token: tuple[str, str], text: str) -> object:
    kind, value = token
    if kind == "str":
        return value[1:-1].replace("''", "'")
    if kind == "num":
        return float(value) if "." in value else int(value)
    if kind == "word" and value.lower() in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[value.lower()]
    raise bad_request(f"Invalid filter clause: bad literal '{value}' in '{text}'.")


def fields_of(tree: Filter) -> set[str]:
    """Every field name the filter mentions."""
    if isinstance(tree, Compare):
        return {tree.field}
    return fields_of(tree.left) | fields_of(tree.right)


def required_eq(tree: Filter) -> set[str]:
    """Fields that every matching row must equal: `eq` comparisons reachable through `and`."""
    if isinstance(tree, Compare):
        return {tree.field} if tree.op == "eq" else set()
    if tree.op == "and":
        return required_eq(tree.left) | required_eq(tree.right)
    return required_eq(tree.left) & required_eq(tree.right)


def matches(tree: Filter, row: Mapping[str, object]) -> bool:
    """Evaluate the filter on a JSON object (case-insensitive string comparison)."""
    if isinstance(tree, Logical):
        if tree.op == "and":
            return matches(tree.left, row) and matches(tree.right, row)
        return matches(tree.left, row) or matches(tree.right, row)
    actual = row.get(tree.field)
    expected = tree.value
    if tree.op == "in":
        assert isinstance(expected, tuple)
        return any(_equal(actual, v) for v in expected)
    equal = _equal(actual, expected)
    return equal if tree.op == "eq" else not equal


def _equal(actual: object, expected: object) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    return actual == expected


def select(row: Mapping[str, object], fields: list[str] | None) -> dict[str, object]:
    """Keep only `fields` (plus any `@odata.*` annotations) when `$select` was given."""
    if not fields:
        return dict(row)
    wanted = {f.lower() for f in fields}
    return {k: v for k, v in row.items() if k.lower() in wanted or k.startswith("@odata.")}


def split_list(value: str | None) -> list[str]:
    """Split a comma list such as `$select=id,displayName` (top-level commas only)."""
    if not value:
        return []
    out, depth, cur = [], 0, ""
    for ch in value:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def encode_skiptoken(offset: int) -> str:
    """An opaque paging token for `offset`."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> int:
    """The offset inside a token from `encode_skiptoken`. Raises `GraphError` 400 when forged."""
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["o"]
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request("The $skiptoken is invalid.") from exc
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("The $skiptoken is invalid.")
    return offset
