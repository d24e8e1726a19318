"""Every behaviour case against the real CLI, the in-process emulator and the real
msgraph-sdk: validate, plan (changes, policy changes, problems), apply, re-plan, writes.

Cases: the team's own in tests/cases/ (always), and ../shared/cases/ with its subfolders
(SHARED_CASES) when it is beside the clone; its absence fails only in CI (`CI=true`).
A new case file in either is tested without new code (format: shared/cases/README.md).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.durations import format_instant, parse_instant

from .cliutil import run_cli
from .conftest import ALL_CASE_FILES, SHARED_CASE_FILES, SHARED_CASES, TEAM_CASES, case_id


def test_shared_cases_are_present() -> None:
    """In CI the shared cases must be there; a plain clone runs the team's cases alone."""
    if not SHARED_CASE_FILES and os.environ.get("CI") != "true":
        pytest.skip(f"no shared cases at {SHARED_CASES} (set PIM_SHARED_CASES); "
                    "required when CI=true")
    assert SHARED_CASE_FILES, f"no behaviour cases found in {SHARED_CASES}"


def test_team_cases_are_present() -> None:
    assert len(list(TEAM_CASES.glob("*.yaml"))) >= 5, TEAM_CASES


def _instant(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_instant(parse_instant(value))
    return format_instant(parse_instant(str(value)))


def _setup(case: dict[str, Any], tmp_path: Path) -> tuple[Path, Path, str]:
    desired = tmp_path / "desired"
    for rel, text in (case.get("desired") or {}).items():
        path = desired / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    desired.mkdir(exist_ok=True)
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(case["tenant"], sort_keys=False), encoding="utf-8")
    return desired, tenant, _instant(case["tenant"]["now"]) or ""


def _accepted_requests(tenant_file: Path) -> int:
    data = yaml.safe_load(tenant_file.read_text(encoding="utf-8"))
    return sum(1 for r in data.get("requests") or []
               if not str(r.get("status", "")).startswith(("Failed", "Denied", "Canceled")))


def _matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    for key, want in expected.items():
        got = actual.get(key)
        if key in ("end", "not_before", "start"):
            if _instant(want) != _instant(got):
                return False
        elif str(want) != str(got):
            return False
    return True


def _assert_same_set(expected: list[dict[str, Any]], actual: list[dict[str, Any]],
                     what: str) -> None:
    left = list(actual)
    for want in expected:
        found = next((a for a in left if _matches(want, a)), None)
        assert found is not None, f"expected {what} {want} not in {actual}"
        left.remove(found)
    assert not left, f"unexpected {what}: {left}"


def _problems(output: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    return output["problems"] if isinstance(output, dict) else output


@pytest.mark.parametrize("case_file", ALL_CASE_FILES, ids=case_id)
def test_case(case_file: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(case_file.read_text(encoding="utf-8"))
    expect = case["expect"]
    desired, tenant, now = _setup(case, tmp_path)

    if "validate_exit" in expect:
        run = run_cli("--now", now, "validate", str(desired), "--format", "json")
        assert run.exit_code == expect["validate_exit"], run.stdout + run.stderr

    run = run_cli("--now", now, "plan", str(desired), "--emulator", str(tenant),
                  "--format", "json")
    assert run.exit_code == expect["plan_exit"], run.stdout + run.stderr
    output = run.json()
    problems = _problems(output)
    errors = [{"code": p["code"], "group": p.get("group"), "principal": p.get("principal")}
              for p in problems if p["severity"] == "error"]
    expected_errors = [{k: e.get(k) for k in ("code", "group", "principal") if k in e}
                       for e in expect.get("problems", [])]
    _assert_same_set(expected_errors, errors, "problem")
    warnings = {p["code"] for p in problems if p["severity"] == "warning"}
    for w in expect.get("warnings", []):
        code = w["code"] if isinstance(w, dict) else w
        assert code in warnings, f"expected warning {code} in {warnings}"
    changes = output.get("changes", []) if isinstance(output, dict) else []
    _assert_same_set(expect.get("changes", []), changes, "change")
    if "policy_changes" in expect:
        policy = output.get("policy_changes", []) if isinstance(output, dict) else []
        _assert_same_set(expect["policy_changes"], policy, "policy change")

    if "apply_exit" in expect:
        before = _accepted_requests(tenant)
        run = run_cli("--now", now, "apply", str(desired), "--emulator", str(tenant), "--yes",
                      "--format", "json")
        assert run.exit_code == expect["apply_exit"], run.stdout + run.stderr
        if "writes" in expect:
            assert _accepted_requests(tenant) - before == expect["writes"]
    if "replan_exit" in expect:
        run = run_cli("--now", now, "plan", str(desired), "--emulator", str(tenant),
                      "--format", "json")
        assert run.exit_code == expect["replan_exit"], run.stdout + run.stderr
