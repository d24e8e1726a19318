"""`doctor` after the user review: an answer that is not Graph's fails the graph check (and
the checks after it are one `not run` line), a 403 points at the permission checks, licences
that could not be read are never a pass, and every credential failure's fix is about what
the message says is missing."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator.fixture import dump_tenant, load_tenant
from reconciler.emulator.server import running_server
from reconciler.graph.auth import CREDENTIALS, WHAT_TO_SET
from tests.cliutil import run_cli
from tests.doctor.test_doctor import (
    EXAMPLES,
    NOW,
    OPS,
    READ_ALL_BUT_ASSIGNMENTS,
    lines,
    tenant,
    write,
)

ALL_READS = [*READ_ALL_BUT_ASSIGNMENTS, "PrivilegedAssignmentSchedule.Read.AzureADGroup"]
BASE_URL_FIX = ("the Graph base URL must end in /v1.0 (e.g. https://graph.microsoft.com/v1.0, "
                "or http://127.0.0.1:PORT/v1.0 for `pim-reconciler emulator serve`): check "
                "--graph-url")
NOT_RUN = ("- not run: clock, permissions, groups, licences: they need answers from Graph "
           "(see the graph check above)")


def _ping_fault(**fault: Any) -> list[dict[str, Any]]:
    """A fault on doctor's ping only (`GET /groups?$top=1`, the first `GET /groups`)."""
    return [{"match": "GET /groups", "times": 1, **fault}]


# --- 1. the graph check ------------------------------------------------------------------


def test_served_emulator_without_v1_suffix_fails_the_graph_check(tmp_path: Path) -> None:
    data = tenant(granted_permissions=ALL_READS)
    directory, _ = write(tmp_path, data, {"ops": OPS})
    with running_server(load_tenant(data)) as url:
        assert url.endswith("/v1.0")
        base = url.removesuffix("/v1.0")
        text = run_cli("--now", NOW, "doctor", directory, "--graph-url", base)
        report = run_cli("--now", NOW, "doctor", directory, "--graph-url", base,
                         "--format", "json")
    assert text.exit_code == 1 and report.exit_code == 1
    credential, graph, not_run, summary = lines(text.stdout)
    assert credential.startswith("✓ credential: ")
    assert graph == (f"✗ graph: Graph at {base} answered HTTP 404 without Graph's JSON error "
                     f"body: not Graph's answer; fix: {BASE_URL_FIX}")
    assert not_run == NOT_RUN  # once, not one line per permission or group
    assert summary.endswith(": 1 check passed, 0 warnings, 1 failed, 1 not run")
    assert "run doctor again" not in text.stdout
    body = report.json()
    assert [(c["check"], c["status"]) for c in body["checks"]] == [
        ("credential", "ok"), ("graph", "fail"), ("not run", "skipped")]
    assert body["counts"] == {"ok": 1, "warning": 0, "fail": 1, "skipped": 1}


@pytest.mark.parametrize(("fault", "message", "fix"), [
    # Graph's own JSON error body, but `GET /groups` never answers 404 on Graph's v1.0
    ({"status": 404}, "answered HTTP 404 ResourceNotFound: ", BASE_URL_FIX),
    ({"status": 400}, "answered HTTP 400 BadRequest: ", BASE_URL_FIX),
    ({"status": 503}, "failed to answer (HTTP 503 ServiceUnavailable: ",
     "if --graph-url is right (it must end in /v1.0), Graph itself failed: try again in a few "
     "minutes"),
])
def test_answers_that_are_not_a_working_graph_fail(tmp_path: Path, fault: dict[str, Any],
                                                   message: str, fix: str) -> None:
    data = tenant(granted_permissions=ALL_READS, faults=_ping_fault(kind="error", **fault))
    directory, tenant_file = write(tmp_path, data, {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 1
    checks = run.json()["checks"]
    assert [c["status"] for c in checks] == ["ok", "fail", "skipped"]
    graph = checks[1]
    assert graph["message"].startswith(f"Graph at http://emulator.invalid/v1.0 {message}")
    assert graph["fix"] == fix


def test_throttled_ping_warns_and_the_checks_still_run(tmp_path: Path) -> None:
    data = tenant(granted_permissions=ALL_READS, faults=_ping_fault(kind="error", status=429))
    directory, tenant_file = write(tmp_path, data, {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 0, run.stdout
    checks = run.json()["checks"]
    [graph] = [c for c in checks if c["check"] == "graph"]
    assert graph["status"] == "warning" and "throttled (HTTP 429 TooManyRequests" in \
        graph["message"]
    assert {c["check"] for c in checks} == {"credential", "graph", "clock", "permission",
                                            "group", "licence"}


def test_403_is_reachable_and_points_at_the_missing_permission(tmp_path: Path) -> None:
    granted = [p for p in ALL_READS if p not in ("Group.Read.All", "Directory.Read.All")]
    directory, tenant_file = write(tmp_path, tenant(granted_permissions=granted), {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file)
    assert run.exit_code == 1
    [graph] = [line for line in lines(run.stdout) if line[2:].startswith("graph:")]
    assert graph == ("✓ graph: Graph at http://emulator.invalid/v1.0 answered (HTTP 403: a "
                     "permission is missing, see below)")
    failed = [line for line in lines(run.stdout) if line.startswith("✗ permission: ")]
    assert any(line.startswith("✗ permission: Group.Read.All missing") for line in failed)


def test_403_that_no_permission_explains_is_a_warning(tmp_path: Path) -> None:
    """Every permission is in the token's roles, yet the ping is refused: nothing below
    explains it, so the graph line is a warning of its own."""
    data = tenant(granted_permissions=ALL_READS, faults=_ping_fault(kind="unauthorized"))
    directory, tenant_file = write(tmp_path, data, {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 0, run.stdout
    checks = run.json()["checks"]
    [graph] = [c for c in checks if c["check"] == "graph"]
    assert graph["status"] == "warning"
    assert graph["message"] == (
        "Graph at http://emulator.invalid/v1.0 answered HTTP 403 (UnauthorizedAccessException: "
        "Attempted to perform an unauthorized operation.) although no permission below is "
        "missing")
    assert all(c["status"] == "ok" for c in checks if c["check"] == "permission")


# --- 2. licences -------------------------------------------------------------------------


def test_unread_plans_are_a_warning_never_a_pass_of_zero(tmp_path: Path) -> None:
    granted = [p for p in ALL_READS if p not in ("User.Read.All", "Directory.Read.All")]
    directory, tenant_file = write(tmp_path, tenant(granted_permissions=granted), {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    licences = [c for c in run.json()["checks"] if c["check"] == "licence"]
    # the four users made eligible in OPS (the group principal is no user)
    assert [(c["status"], c["message"]) for c in licences] == [
        ("warning", "not checked for 4 eligible user(s): their assignedPlans could not be "
                    "read (User.Read.All)")]
    assert "User.Read.All" in licences[0]["fix"]


def test_some_plans_unread_counts_only_those_read(tmp_path: Path) -> None:
    """One user named by UPN (plans read: P2), one by object id (`getByIds` carries no
    assignedPlans): one pass for the one read, one warning for the other, by its cause."""
    data = dump_tenant(load_tenant(tenant()))
    [uid] = [u["id"] for u in data["users"] if u["userPrincipalName"] == "none@contoso.example"]
    two = ("group: PIM-Ops\nmembers:\n  eligible:\n"
           "    - principal: p2@contoso.example\n      duration: P30D\n"
           f"    - principal: {uid}\n      duration: P30D\n")
    directory, tenant_file = write(tmp_path, data, {"ops": two})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    licences = [(c["status"], c["message"]) for c in run.json()["checks"]
                if c["check"] == "licence"]
    assert licences == [
        ("ok", "1 eligible user(s) hold Microsoft Entra ID P2 or Microsoft Entra ID Governance"),
        ("warning", "not checked for 1 eligible user(s): Graph's answer carried no "
                    "assignedPlans for them (as for a user named by object id: getByIds "
                    "returns none)")]


def test_no_eligible_user_says_so(tmp_path: Path) -> None:
    active_only = ("group: PIM-Ops\nmembers:\n  active:\n"
                   "    - principal: p2@contoso.example\n      duration: P30D\n"
                   "      justification: on call\n")
    directory, tenant_file = write(tmp_path, tenant(), {"ops": active_only})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    licences = [(c["status"], c["message"]) for c in run.json()["checks"]
                if c["check"] == "licence"]
    assert licences == [("ok", "no user is made eligible: no licence to check")]


# --- 3. credential fixes -----------------------------------------------------------------

_VARIABLE = re.compile(r"\b(?:AZURE|ACTIONS)_[A-Z_]+\b")


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AZURE_", "ACTIONS_")):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("kind", [k for k in CREDENTIALS if k != "default"])
def test_config_error_fix_is_about_what_the_message_names(monkeypatch: pytest.MonkeyPatch,
                                                          kind: str) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
    run = run_cli("doctor", str(EXAMPLES / "assignments"), "--credential", kind,
                  "--format", "json")
    assert run.exit_code == 1
    credential, not_run = run.json()["checks"]
    assert credential["status"] == "fail"
    assert credential["message"].startswith(f"cannot be built: --credential {kind} needs ")
    # the fix names no variable the message does not: it is about what is missing
    assert set(_VARIABLE.findall(credential["fix"])) <= set(
        _VARIABLE.findall(credential["message"]))
    assert credential["fix"] != WHAT_TO_SET[kind]
    assert not_run == {"check": "not run", "status": "skipped",
                       "message": "graph, clock, permissions, groups, licences: they need "
                       "answers from Graph (see the credential check above)",
                       "fix": None, "subject": "graph,clock,permissions,groups,licences",
                       "file": None, "line": None}


def test_github_oidc_outside_actions_says_to_run_in_a_job(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
    run = run_cli("doctor", str(EXAMPLES / "assignments"), "--credential", "github-oidc")
    assert run.exit_code == 1
    first = lines(run.stdout)[0]
    assert first == (
        "✗ credential: cannot be built: --credential github-oidc needs "
        "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, which GitHub "
        "Actions sets only in a job allowed to request an OIDC token; fix: run in a GitHub "
        "Actions job with `permissions: id-token: write`, or choose another --credential")
    assert "AZURE_TENANT_ID" not in first and "federated" not in first


def test_default_failure_gives_its_advice_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import aio

    report = ("DefaultAzureCredential failed to retrieve a token from the included "
              "credentials.\nAttempted credentials:\n\tEnvironmentCredential: Environment "
              "variables are not fully configured.")

    class DefaultAzureCredential:  # fails as the real one does where nothing is set up
        async def get_token(self, *_scopes: str, **_kwargs: object) -> None:
            raise ClientAuthenticationError(message=report)

        async def close(self) -> None:
            return None

    monkeypatch.setattr(aio, "DefaultAzureCredential", DefaultAzureCredential)
    run = run_cli("doctor", str(EXAMPLES / "assignments"), "--format", "json")
    assert run.exit_code == 1
    credential, not_run = run.json()["checks"]
    assert credential["message"] == (
        "no token: authentication to Microsoft Graph failed with --credential default "
        "(DefaultAzureCredential): none of the credentials it tries got a token")
    assert credential["fix"] == WHAT_TO_SET["default"]
    assert not_run["status"] == "skipped"
    text = run_cli("doctor", str(EXAMPLES / "assignments"))
    assert lines(text.stdout)[0].count("az login") == 1


def test_refused_github_oidc_request_is_no_token_with_its_own_fix(world: Any) -> None:
    """A real ClientAssertionCredential whose GitHub OIDC request is refused (a stale request
    token): the callback's error passes through azure-identity, and doctor says no token
    with a fix about the request variables, not about AZURE_* or the federated credential."""
    env = {**world.env(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "ghs_stale"}
    result = CliRunner().invoke(
        cli, ["--now", NOW, "doctor", str(EXAMPLES / "assignments"), "--graph-url",
              world.graph_url, "--credential", "github-oidc", "--format", "json"], env=env)
    assert result.exit_code == 1, result.stdout + result.stderr
    credential, not_run = json.loads(result.stdout)["checks"]
    assert credential["message"] == (
        "no token: the GitHub OIDC token request (ACTIONS_ID_TOKEN_REQUEST_URL) failed with "
        "HTTP 401")
    assert credential["fix"].startswith("use the ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN "
                                        "GitHub Actions set in this very job")
    assert "AZURE_" not in credential["fix"]
    assert world.github.refused == 1
    assert not_run["check"] == "not run"
