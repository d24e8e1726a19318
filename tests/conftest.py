"""Shared test helpers: where the shared behaviour cases live, and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# CI lays shared/ beside the clone: ../shared/cases/ from the project root.
SHARED_CASES = Path(os.environ.get("PIM_SHARED_CASES", ROOT.parent / "shared" / "cases"))


@pytest.fixture
def examples() -> Path:
    return ROOT / "examples"
