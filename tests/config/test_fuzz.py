"""Hypothesis: whatever YAML a group file holds, `load_desired` returns problems, never raises.

Documents mix the real schema's keys with random ones, at random nesting, with every scalar
type and strings that look like the values the loader interprets (UPNs, GUIDs, instants,
durations, YAML 1.1 booleans). Raw text from a YAML-heavy alphabet fuzzes the parser itself.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config import load_desired
from reconciler.config.schema import GROUP_SCHEMA, SETTINGS_SCHEMA, load_schema
from reconciler.desired.model import DesiredState
from reconciler.problems import Problem


def _schema_keys() -> list[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keys.update((node.get("properties") or {}).keys())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_schema(GROUP_SCHEMA))
    walk(load_schema(SETTINGS_SCHEMA))
    return sorted(keys)


SCHEMA_KEYS = _schema_keys()

interesting_text = st.sampled_from(
    [
        "a@contoso.example",
        "6F1B7A1C-0000-4000-8000-00000000000A",
        "deploy-pipeline",
        "2027-06-30T00:00:00Z",
        "2027-06-30T00:00:00",
        "2027-02-30T00:00:00Z",
        "2027-06-30T02:00:00+02:00",
        "P30D",
        "P6M",
        "PT3M",
        "PT",
        "P",
        "P1DT12H",
        "P0D",
        "no",
        "yes",
        "on",
        "off",
        "12:30",
        "0o12",
        "~",
        "",
        "authoritative",
        "additive",
        "member",
        "group",
        "servicePrincipal",
        "user",
        "<<",
        "&a",
        "*a",
        "!!int",
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    interesting_text,
)
keys = st.one_of(st.sampled_from(SCHEMA_KEYS), st.text(max_size=10), interesting_text)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=25,
)

principal = st.one_of(
    interesting_text,
    st.dictionaries(
        st.sampled_from(["user", "group", "servicePrincipal", "x"]), scalars, max_size=2
    ),
    documents,
)
entry = st.fixed_dictionaries(
    {},
    optional={
        "principal": principal,
        "principals": st.lists(principal, max_size=3),
        "permanent": scalars,
        "until": st.one_of(interesting_text, scalars),
        "duration": st.one_of(interesting_text, scalars),
        "start": st.one_of(interesting_text, scalars),
        "justification": scalars,
        "ticket": documents,
        "extra": documents,
    },
)
section = st.fixed_dictionaries(
    {},
    optional={
        "eligible": st.lists(entry, max_size=4),
        "active": st.one_of(st.lists(entry, max_size=3), documents),
    },
)
group_like = st.fixed_dictionaries(
    {"group": st.one_of(interesting_text, scalars)},
    optional={
        "mode": st.one_of(interesting_text, scalars),
        "members": section,
        "owners": st.one_of(section, documents),
        "description": scalars,
    },
)
raw_text = st.text(
    alphabet=st.sampled_from(list("ab@:-[]{}&*!|>'\"#%?,\n \t.0123456789PTZ")), max_size=120
)


def _dump(doc: Any, flow: bool) -> str:
    return yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, sort_keys=False)


def _check(text: str | bytes, settings_text: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "groups").mkdir()
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        (root / "groups" / "fuzz.yaml").write_bytes(data)
        if settings_text is not None:
            (root / "pim-reconciler.yaml").write_text(settings_text, encoding="utf-8")
        state, problems = load_desired(root)
    assert all(isinstance(p, Problem) for p in problems)
    has_errors = any(p.is_error for p in problems)
    assert (state is None) == has_errors
    if state is not None:
        assert isinstance(state, DesiredState)
    for p in problems:
        assert p.message and p.file is not None
        assert p.line is None or p.line >= 1


common = settings(
    max_examples=int(os.environ.get("PIM_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@common
@given(documents, st.booleans())
def test_random_documents_give_problems_not_exceptions(doc: Any, flow: bool) -> None:
    _check(_dump(doc, flow))


@common
@given(group_like, st.booleans())
def test_group_shaped_documents_give_problems_not_exceptions(doc: Any, flow: bool) -> None:
    _check(_dump(doc, flow))


@common
@given(documents, group_like)
def test_random_settings_give_problems_not_exceptions(settings_doc: Any, doc: Any) -> None:
    _check(_dump(doc, False), settings_text=_dump(settings_doc, False))


@common
@given(raw_text)
def test_raw_yaml_text_gives_problems_not_exceptions(text: str) -> None:
    _check(text)


@common
@given(st.binary(max_size=80))
def test_random_bytes_give_problems_not_exceptions(data: bytes) -> None:
    _check(data)
