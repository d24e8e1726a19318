"""reconciler.config.yamlsafe: YAML 1.2 core scalars, refused features, lines, limits."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from reconciler.config import yamlsafe
from reconciler.config.yamlsafe import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    YamlError,
    decode_utf8,
    load_yaml_bytes,
    parse_yaml,
    read_bounded,
)
from reconciler.problems import Code


def issue(text: str) -> tuple[Code, int | None, str]:
    with pytest.raises(YamlError) as info:
        parse_yaml(text)
    first = info.value.issues[0]
    return first.code, first.line, first.message


def test_uses_the_c_parser_when_available() -> None:
    import yaml

    if getattr(yaml, "__with_libyaml__", False):
        assert yamlsafe._LOADER is yaml.CSafeLoader


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no", "no"),
        ("off", "off"),
        ("on", "on"),
        ("yes", "yes"),
        ("Y", "Y"),
        ("12:30", "12:30"),
        ("2027-06-30T00:00:00Z", "2027-06-30T00:00:00Z"),
        ("2027-06-30", "2027-06-30"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("~", None),
        ("null", None),
        ("", None),
        ("0o12", 10),
        ("012", 12),
        ("0x1F", 31),
        ("-7", -7),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("P30D", "P30D"),
        ("'no'", "no"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("1_000", "1_000"),
    ],
)
def test_scalars_resolve_as_yaml_1_2_core(text: str, expected: object) -> None:
    assert parse_yaml(f"v: {text}\n").data == {"v": expected}


def test_special_floats() -> None:
    data = parse_yaml("v: [.inf, -.Inf, .NaN]\n").data["v"]
    assert data[0] == math.inf and data[1] == -math.inf and math.isnan(data[2])


def test_lines_of_values_and_keys() -> None:
    doc = parse_yaml(
        "group: g\n"
        "members:\n"
        "  eligible:\n"
        "    - principal: a@x\n"
        "      until: 2027-06-30T00:00:00Z\n"
        "    - principals: [b@x,\n"
        "                   c@x]\n"
    )
    assert doc.line_of(("group",)) == 1
    assert doc.key_line_of(("members",)) == 2
    assert doc.line_of(("members", "eligible", 0)) == 4
    assert doc.line_of(("members", "eligible", 0, "until")) == 5
    assert doc.line_of(("members", "eligible", 1, "principals", 1)) == 7
    assert doc.line_of(("members", "eligible", 0, "missing")) == 4  # nearest ancestor
    assert doc.key_line_of(("members", "eligible", 1, "principals")) == 6


def test_duplicate_keys_are_all_reported_at_the_second_key() -> None:
    with pytest.raises(YamlError) as info:
        parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    got = [(i.code, i.line) for i in info.value.issues]
    assert got == [(Code.DUPLICATE_KEY, 4), (Code.DUPLICATE_KEY, 5)]
    assert "first at line 3" in info.value.issues[0].message


def test_quoted_and_plain_keys_are_the_same_key() -> None:
    assert issue('a: 1\n"a": 2\n')[:2] == (Code.DUPLICATE_KEY, 2)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: &x 1\nb: *x\n", 1, "anchors"),
        ("a: 1\nb: *x\n", 2, "alias"),  # an undefined alias is still refused, not a crash
        ("base: {x: 1}\nother:\n  <<: {y: 2}\n", 3, "merge keys"),
        ("a: !!int '3'\n", 1, "!!int"),
        ("a: !!python/object:os.system x\n", 1, "!!python/object:os.system"),
        ("a: !!set {x}\n", 1, "!!set"),
        ("? [a, b]\n: 1\n", 1, "keys must be plain text"),
        ("a: 1\n---\nb: 2\n", 2, "several YAML documents"),
        ("a: [1, 2\n", 1, "flow sequence"),
        ("a: b: c\n", 1, "mapping values"),
        ("a: '\x07'\n", 1, "U+0007"),
    ],
)
def test_refused_yaml(text: str, line: int, words: str) -> None:
    code, got_line, message = issue(text)
    assert code is Code.YAML_SYNTAX
    assert got_line == line
    assert words in message


def test_depth_limit_counts_levels() -> None:
    ok = "a:\n" + "".join("  " * i + "b:\n" for i in range(1, MAX_DEPTH - 1))
    parse_yaml(ok)
    deep = "a:\n" + "".join("  " * i + "b:\n" for i in range(1, MAX_DEPTH + 2))
    code, _line, message = issue(deep)
    assert code is Code.YAML_SYNTAX and f"deeper than {MAX_DEPTH}" in message


def test_empty_and_comment_only_streams_give_none() -> None:
    assert parse_yaml("").data is None
    assert parse_yaml("# nothing here\n").data is None


def test_non_utf8_names_line_and_byte() -> None:
    with pytest.raises(YamlError) as info:
        decode_utf8(b"group: g\nname: caf\xe9\n")
    (only,) = info.value.issues
    assert only.line == 2 and "0xe9" in only.message


def test_bom_is_dropped() -> None:
    assert load_yaml_bytes("\ufeffgroup: g\n".encode()).data == {"group": "g"}


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing to read, the stat refuses it
    t0 = time.perf_counter()
    with pytest.raises(YamlError) as info:
        read_bounded(big)
    assert time.perf_counter() - t0 < 0.5
    assert "limited to" in info.value.issues[0].message
    with pytest.raises(YamlError):
        load_yaml_bytes(b"#" * (MAX_FILE_BYTES + 1))


def test_unreadable_file_is_an_issue_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(YamlError) as info:
        read_bounded(tmp_path / "missing.yaml")
    assert info.value.issues[0].code is Code.YAML_SYNTAX


def test_tab_indentation_is_named() -> None:
    with pytest.raises(YamlError) as caught:
        parse_yaml("group: g\nmembers:\n  eligible:\n\t- principal: a@b.c\n")
    [issue] = caught.value.issues
    assert issue.line == 4 and "a tab; YAML indents with spaces only" in issue.message
