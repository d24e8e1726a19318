"""The desired files of every behaviour case (tests/cases/ and ../shared/cases/, subfolders
included) load as the case expects:
`validate_exit: 1` cases fail with the listed offline codes (right group and principal),
the others load (their problems, if any, are for the planner, which needs the tenant)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import load_desired

from ..conftest import ALL_CASE_FILES, case_id
from .helpers import write_tree

OFFLINE = {
    "yaml_syntax",
    "duplicate_key",
    "schema",
    "duplicate_group",
    "duplicate_assignment",
    "lifetime_missing",
    "lifetime_conflict",
    "duration_unit_unsupported",
    "duration_too_short",
    "principal_ambiguous",
}


def _case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", ALL_CASE_FILES, ids=case_id)
def test_case_desired_files_load_as_expected(path: Path, tmp_path: Path) -> None:
    case = _case(path)
    state, problems = load_desired(write_tree(tmp_path, case.get("desired") or {}))
    expect = case.get("expect") or {}
    wanted = [p for p in expect.get("problems") or [] if p["code"] in OFFLINE]
    if expect.get("validate_exit") == 1 or wanted:
        assert state is None
        got = {(str(p.code), p.group, p.principal) for p in problems if p.is_error}
        for want in wanted:
            assert (want["code"], want.get("group"), want.get("principal")) in got
    else:
        assert state is not None, [p.to_dict() for p in problems]
