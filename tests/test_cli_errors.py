"""User mistakes on the command line end in one clear line and exit 1, never a traceback
and never exit 2 (which means "changes" / "drift" to CI)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = str(ROOT / "examples" / "assignments")


@pytest.mark.parametrize("args", [
    ["plan", "/nonexistent/dir", "--emulator", "examples/tenant.yaml"],
    ["plan", EXAMPLES, "--emulator", "/nonexistent/tenant.yaml"],
    ["--now", "garbage", "plan", EXAMPLES],
    ["plan", EXAMPLES, "--format", "xml"],
    ["drift", EXAMPLES, "--expiring-within", "P1M"],
    ["apply", EXAMPLES, "--allow-removals", "abc"],
    ["apply", EXAMPLES, "--allow-removals", "-1"],
    ["apply", EXAMPLES, "--plan", "/nonexistent/plan.json"],
    ["apply", EXAMPLES, "--yes", "--audit-log", "/nonexistent/dir/audit.jsonl"],
    ["plan", EXAMPLES, "--emulator", "examples/tenant.yaml", "--out", "/nonexistent/p.json"],
], ids=lambda a: " ".join(a)[:40])
def test_usage_errors_exit_one(args: list[str]) -> None:
    run = run_cli(*args)
    assert run.exit_code == 1, run.stdout + run.stderr
    assert "Error:" in run.stderr or "error:" in run.stderr
    assert "Traceback" not in run.stderr


def test_unreachable_graph_url_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    run = run_cli("--now", "2026-12-01T12:00:00Z", "plan", EXAMPLES, "--graph-url",
                  f"http://127.0.0.1:{port}/v1.0")
    assert run.exit_code == 1
    assert f"cannot connect to http://127.0.0.1:{port}/v1.0" in run.stderr
    assert time.monotonic() - started < 10


def test_credential_without_its_settings_names_what_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    run = run_cli("plan", EXAMPLES, "--credential", "client-secret")
    assert run.exit_code == 1
    assert run.stderr.startswith("error: ") and "AZURE_CLIENT_ID" in run.stderr


def test_malformed_tenant_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "tenant.yaml"
    bad.write_text("now: [\n")
    run = run_cli("plan", EXAMPLES, "--emulator", str(bad))
    assert run.exit_code == 1
    assert run.stderr.startswith(f"error: cannot load tenant file {bad}")
