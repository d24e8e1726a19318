"""Sign-in end to end through the CLI: `plan --graph-url https://127.0.0.1:PORT/v1.0
--credential ...` against the example tenant served over HTTPS (Graph and token authority on
one host), as a CI job would run it. Secrets and tokens never reach the output or the logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

from .conftest import EXAMPLE_TENANT, ROOT, World
from .helpers import LIMITED_APP

EXAMPLES = str(ROOT / "examples" / "assignments")
NOW = "2026-12-01T12:00:00Z"  # the example tenant's `now`


def _secrets(world: World) -> list[str]:
    """Every secret string the fakes handed out or know: access tokens, assertions, the
    client secrets and GitHub's request token."""
    found = [*world.issued_tokens(), *world.github.minted, world.secret, world.limited_secret,
             world.github.request_token]
    return found


def _signed_in(world: World, github: bool) -> None:
    """The run did get a token (and a GitHub assertion): a leak check has tokens to look for."""
    assert world.issued_tokens(), "no token was issued: the leak check would be vacuous"
    assert bool(world.github.minted) == github


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("AZURE_", "ACTIONS_", "SSL_CERT", "REQUESTS_CA"))}


def _plan_subprocess(world: World, *extra: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *extra, "--now", NOW, "plan", EXAMPLES,
         "--graph-url", world.graph_url, "--credential", "github-oidc", "--format", "json",
         "--out", str(out)],
        env={**_clean_env(), **world.env()}, capture_output=True, text=True, timeout=60,
        check=False)


def test_plan_over_https_with_github_oidc_equals_the_emulator_plan(world: World,
                                                                   tmp_path: Path) -> None:
    served = _plan_subprocess(world, out=tmp_path / "plan.json")
    assert served.returncode == 2, served.stderr
    local = CliRunner().invoke(cli, ["--now", NOW, "plan", EXAMPLES, "--emulator",
                                     str(EXAMPLE_TENANT), "--format", "json"])
    assert local.exit_code == 2, local.stderr
    assert served.stdout == local.stdout  # the same plan, byte for byte
    assert (tmp_path / "plan.json").read_text(encoding="utf-8").strip() == served.stdout.strip()
    # signed in once, with one fresh GitHub assertion, as the CI app
    log = world.tenant.identity.token_log
    assert [(e.method, e.error_code) for e in log] == [("federated", None)]
    assert len(world.github.hits) == 1 and world.github.refused == 0
    plan_text = (tmp_path / "plan.json").read_text(encoding="utf-8")
    for secret in _secrets(world):
        assert secret not in served.stdout and secret not in served.stderr
        assert secret not in plan_text


def test_verbose_text_plan_leaks_nothing(world: World, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", "--verbose", "--now", NOW, "plan", EXAMPLES,
         "--graph-url", world.graph_url, "--credential", "client-secret"],
        env={**_clean_env(), **world.env(AZURE_CLIENT_SECRET=world.secret)},
        capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2, run.stderr
    assert "PIM-Security-Readers" in run.stdout
    _signed_in(world, github=False)
    for secret in _secrets(world):
        assert secret not in run.stdout and secret not in run.stderr


def test_debug_logging_in_process_leaks_nothing(world: World,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(
        cli, ["--verbose", "--now", NOW, "plan", EXAMPLES, "--graph-url", world.graph_url,
              "--credential", "github-oidc"], env=world.env())
    assert result.exit_code == 2, result.stderr
    records = [r.getMessage() for r in caplog.records]
    assert any("oauth2/v2.0/token" in m for m in records)  # the token request was logged
    _signed_in(world, github=True)
    everything = "\n".join([*records, caplog.text, result.stdout, result.stderr])
    for secret in _secrets(world):
        assert secret not in everything


@pytest.mark.parametrize(("case", "kind", "code"), [
    ("wrong-audience", "github-oidc", "AADSTS700212"),
    ("expired", "github-oidc", "AADSTS700024"),
    ("bad-secret", "client-secret", "AADSTS7000215"),
])
def test_refused_sign_in_is_one_error_line(make_world, case: str, kind: str,
                                           code: str) -> None:
    world: World = make_world(audiences=["api://contoso-pim"] if case == "wrong-audience"
                              else None)
    if case == "expired":
        world.github.expires_in = -3600
    env = world.env(AZURE_CLIENT_SECRET="wrong-" + world.secret) if kind == "client-secret" \
        else world.env()
    result = CliRunner().invoke(cli, ["--now", NOW, "plan", EXAMPLES, "--graph-url",
                                      world.graph_url, "--credential", kind], env=env)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    credential = {"github-oidc": "ClientAssertionCredential",
                  "client-secret": "ClientSecretCredential"}[kind]
    assert lines[0].startswith("error: authentication to Microsoft Graph failed with "
                               f"--credential {kind} ({credential}): ")
    assert f"{code}:" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    for secret in [*_secrets(world), "wrong-" + world.secret]:
        assert secret not in result.stderr


def test_token_without_a_read_permission_gets_graphs_403(world: World) -> None:
    result = CliRunner().invoke(
        cli, ["--now", NOW, "plan", EXAMPLES, "--graph-url", world.graph_url,
              "--credential", "client-secret"],
        env=world.env(LIMITED_APP, AZURE_CLIENT_SECRET=world.limited_secret))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Microsoft Graph: ")
    assert lines[0].startswith("error: Microsoft Graph: 403 UnknownError: reading assignment "
                               "schedules of group ")
    assert "application permission PrivilegedAssignmentSchedule.Read.AzureADGroup" in lines[0]
    assert [e.client_id for e in world.tenant.identity.token_log] == [LIMITED_APP]


def test_an_unreachable_github_oidc_endpoint_is_blamed_not_graph(world: World) -> None:
    """The GitHub request runs inside the Graph request's sign-in: its httpx.ConnectError was
    reported as `cannot connect to <--graph-url>` although Graph was up."""
    from reconciler.emulator.server import free_port

    gone = f"https://127.0.0.1:{free_port()}/_apis/pipelines/workflows/run/idtoken?api-version=2.0"
    result = CliRunner().invoke(
        cli, ["--now", NOW, "plan", EXAMPLES, "--graph-url", world.graph_url,
              "--credential", "github-oidc"], env=world.env(ACTIONS_ID_TOKEN_REQUEST_URL=gone))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: the GitHub OIDC token request (ACTIONS_ID_TOKEN_REQUEST_URL) could not be made: "
        "ConnectError: "), result.stderr
    assert result.stderr.strip().endswith(
        "; check the network (proxy, firewall) to ACTIONS_ID_TOKEN_REQUEST_URL and, behind a "
        "TLS-inspecting proxy, give its CA with SSL_CERT_FILE")
    assert len(result.stderr.strip().splitlines()) == 1 and world.graph_url not in result.stderr
    assert world.tenant.identity.token_log == [] and world.github.hits == []
    assert world.github.request_token not in result.stderr
