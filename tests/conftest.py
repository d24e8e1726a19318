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


GRAPH_VARIANT_TESTS = (
    "tests/test_cases.py",
    "tests/config/test_shared_cases.py",
    "tests/apply/",
    "tests/graph/test_against_emulator.py",
    "tests/reports/test_cli_reports.py",
    "tests/test_plan_shows_everything.py",
)
"""The end-to-end tests whose outcome may depend on how Graph answers where the reference is
unconfirmed: marked `graph_variant`, and run a second time with every emulator switch on its
other option (tests/test_graph_variant_matrix.py)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "graph_variant: end-to-end test run again under the emulator's "
        "alternative readings of unconfirmed Graph behaviour (emulator/variants.py)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        if rel.startswith(GRAPH_VARIANT_TESTS):
            item.add_marker(pytest.mark.graph_variant)
