"""The compiled schema validator (fastjsonschema) agrees with jsonschema on every file of the
corpus (examples, the team's and the shared cases' desired files, and hand-made invalid
variants), so the fast path never lets through what jsonschema refuses, nor the reverse."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config.loader import load_desired
from reconciler.config.schema import GROUP_SCHEMA, SETTINGS_SCHEMA, is_valid, validator
from reconciler.config.yamlsafe import YamlError, parse_yaml

from ..conftest import SHARED_CASES, TEAM_CASES

ROOT = Path(__file__).resolve().parents[2]


def _documents() -> list[tuple[str, str, Any]]:
    """(label, schema, parsed data) for every desired file the repository and cases hold."""
    out: list[tuple[str, str, Any]] = []

    def add(label: str, name: str, text: str) -> None:
        schema = SETTINGS_SCHEMA if name.endswith("pim-reconciler.yaml") else GROUP_SCHEMA
        try:
            data = parse_yaml(text).data
        except YamlError:
            return
        out.append((label, schema, data))

    for path in sorted((ROOT / "examples" / "assignments").rglob("*.yaml")):
        add(str(path.relative_to(ROOT)), path.name, path.read_text(encoding="utf-8"))
    for base in (TEAM_CASES, SHARED_CASES):
        if not base.is_dir():
            continue
        for case in sorted(base.rglob("*.yaml")):
            spec = yaml.safe_load(case.read_text(encoding="utf-8"))
            for name, text in ((spec or {}).get("desired") or {}).items():
                add(f"{case.name}:{name}", name, str(text))
    return out


def _variants(data: Any) -> list[Any]:
    """Invalid and edge variants of a group file: wrong types, a bool where a number or text
    goes, an unknown key, a bad pattern, null values."""
    if not isinstance(data, dict):
        return []
    out = []
    for key in list(data):
        for value in (True, 7, None, [], {}, "x", 1.5):
            changed = copy.deepcopy(data)
            changed[key] = value
            out.append(changed)
    extra = copy.deepcopy(data)
    extra["surprise"] = 1
    out.append(extra)
    for section in ("members", "owners"):
        block = data.get(section)
        if isinstance(block, dict):
            for kind, entries in block.items():
                if isinstance(entries, list) and entries and isinstance(entries[0], dict):
                    for field, value in (("duration", "P1M"), ("duration", 5),
                                         ("until", True), ("principal", {"bogus": "x"}),
                                         ("ticket", "CHG-1"), ("permanent", "yes")):
                        changed = copy.deepcopy(data)
                        changed[section][kind][0][field] = value
                        out.append(changed)
    return out


DOCUMENTS = _documents()


def test_the_corpus_is_not_empty() -> None:
    assert len(DOCUMENTS) >= 20


@pytest.mark.parametrize(("label", "schema", "data"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_both_validators_agree(label: str, schema: str, data: Any) -> None:
    documents = [data, *(_variants(data) if schema == GROUP_SCHEMA else [])]
    for doc in documents:
        assert is_valid(doc, schema) == validator(schema).is_valid(doc), (label, doc)


def test_a_refused_file_still_gets_jsonschema_messages(tmp_path: Path) -> None:
    (tmp_path / "groups").mkdir()
    (tmp_path / "groups" / "app.yaml").write_text(
        "group: grp-app\nmembers:\n  eligible:\n    - principal: a@contoso.example\n"
        "      duration: 5\n      colour: blue\n", encoding="utf-8")
    state, problems = load_desired(tmp_path)
    assert state is None
    texts = [(p.code, p.line) for p in problems]
    assert ("schema", 5) in [(str(c), line) for c, line in texts]
    assert ("schema", 6) in [(str(c), line) for c, line in texts]
