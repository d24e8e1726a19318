"""Helpers for the desired-state loader tests: write a directory of files, load it."""

from __future__ import annotations

from pathlib import Path

from reconciler.config import load_desired
from reconciler.desired.model import DesiredState
from reconciler.problems import Problem

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def load(root: Path, files: dict[str, str | bytes]) -> tuple[DesiredState | None, list[Problem]]:
    return load_desired(write_tree(root, files))


def codes(problems: list[Problem]) -> list[str]:
    return [str(p.code) for p in problems]
