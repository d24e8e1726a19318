"""YAML bombs and oversized input are refused quickly with one clear problem."""

from __future__ import annotations

import time
from pathlib import Path

from reconciler.config import load_desired
from reconciler.problems import Code

BILLION_LAUGHS = """\
group: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def refused(tmp_path: Path, content: bytes) -> tuple[Code, int | None, str, float]:
    path = tmp_path / "groups" / "bomb.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    t0 = time.perf_counter()
    state, problems = load_desired(tmp_path)
    elapsed = time.perf_counter() - t0
    assert state is None
    assert len(problems) == 1
    (p,) = problems
    assert p.file == f"{tmp_path}/groups/bomb.yaml"
    return p.code, p.line, p.message, elapsed


def test_billion_laughs_is_refused_at_the_first_anchor(tmp_path: Path) -> None:
    code, line, message, elapsed = refused(tmp_path, BILLION_LAUGHS.encode())
    assert (code, line) == (Code.YAML_SYNTAX, 1)
    assert "anchors (&a) are not allowed" in message
    assert elapsed < 2


def test_deep_flow_nesting_is_refused(tmp_path: Path) -> None:
    code, line, message, elapsed = refused(
        tmp_path, b"group: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"
    )
    assert (code, line) == (Code.YAML_SYNTAX, 1)
    assert "nesting" in message
    assert elapsed < 2


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    code, line, message, elapsed = refused(tmp_path, b"group:\n" + b"- " * 10_000 + b"x\n")
    assert (code, line) == (Code.YAML_SYNTAX, 2)
    assert "nesting deeper than 64" in message
    assert elapsed < 2


def test_50_mb_file_is_refused_before_parsing(tmp_path: Path) -> None:
    line = b"    - {principal: someone@contoso.example, duration: P30D}\n"
    content = b"group: g\nmembers:\n  eligible:\n" + line * (50 * 1024 * 1024 // len(line))
    code, where, message, elapsed = refused(tmp_path, content)
    assert (code, where) == (Code.YAML_SYNTAX, None)
    assert "limited to 1048576 bytes" in message
    assert elapsed < 2


def test_many_keys_within_the_size_limit_are_fine(tmp_path: Path) -> None:
    entries = "".join(
        f"    - {{principal: u{i}@contoso.example, duration: P30D}}\n" for i in range(5000)
    )
    (tmp_path / "groups").mkdir()
    (tmp_path / "groups" / "big.yaml").write_text(f"group: g\nmembers:\n  eligible:\n{entries}")
    t0 = time.perf_counter()
    state, problems = load_desired(tmp_path)
    assert problems == [] and state is not None
    assert len(state.groups[0].assignments) == 5000
    assert time.perf_counter() - t0 < 2
