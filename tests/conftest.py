"""Shared test helpers: where the shared behaviour cases live, and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# CI lays shared/ beside the clone: ../shared/cases/ from the project root.
SHARED_CASES = Path(os.environ.get("PIM_SHARED_CASES", ROOT.parent / "shared" / "cases"))
TEAM_CASES = ROOT / "tests" / "cases"
"""The team's own behaviour cases (same format): every bug fixed, every case from an issue."""


def case_files(folder: Path) -> list[Path]:
    """Every case file below `folder`, subfolders included (e.g. `cases/policy/`)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml")
                  and p.is_file() and p.stem.lower() != "readme")


SHARED_CASE_FILES = case_files(SHARED_CASES)
ALL_CASE_FILES = case_files(TEAM_CASES) + SHARED_CASE_FILES
"""What the case tests run: the team's cases always, the shared ones when they are there."""


def case_id(path: Path) -> str:
    for base, prefix in ((TEAM_CASES, "team"), (SHARED_CASES, "shared")):
        if path.is_relative_to(base):
            return f"{prefix}/{path.relative_to(base).with_suffix('')}"
    return path.stem


@pytest.fixture
def examples() -> Path:
    return ROOT / "examples"
