"""User mistakes on the command line end in one clear line and exit 1, never a traceback
and never exit 2 (which means "changes" / "drift" to CI)."""

from __future__ import annotations

import logging
import os
import socket
import time
from contextlib import AbstractContextManager
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


@pytest.mark.parametrize("url", ["not-a-url", "ftp://127.0.0.1/v1.0", "127.0.0.1:8765/v1.0",
                                 "http:///v1.0"])
def test_graph_url_without_http_scheme_is_refused_before_any_request(url: str) -> None:
    """It was retried as a transient transport error for 270 s (httpx.UnsupportedProtocol)."""
    started = time.monotonic()
    for command in ("plan", "doctor"):
        run = run_cli(command, EXAMPLES, "--graph-url", url)
        assert run.exit_code == 1, run.stdout + run.stderr
        assert (f"Invalid value for --graph-url: {url!r} is not an http(s) URL"
                in run.stderr), run.stderr
        assert "Traceback" not in run.stderr
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("url", ["http://graph.test.invalid/v1.0", "http://10.1.2.3:8765/v1.0"])
def test_plain_http_to_another_host_with_a_credential_is_one_line(
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """kiota refuses to send a token over plain http but to loopback: it was a traceback
    (kiota_authentication_azure HTTPError: Only https is supported)."""
    for name, value in {"AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
                        "AZURE_CLIENT_SECRET": "not-a-secret",
                        "AZURE_AUTHORITY_HOST": "https://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    run = run_cli("plan", EXAMPLES, "--graph-url", url, "--credential", "client-secret")
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines()[-1] == (
        f"Error: Invalid value for --graph-url: {url!r} is plain http: a token is sent over "
        "https only (plain http only to 127.0.0.1 or localhost); give an https:// URL, or the "
        "default --credential for an anonymous emulator"), run.stderr
    assert "Traceback" not in run.stderr


def test_a_url_httpx_cannot_send_to_is_not_retried() -> None:
    from reconciler.graph.errors import BAD_URL, CONNECT_ERROR, GraphError

    assert not GraphError(None, BAD_URL, "cannot send").transient
    assert not GraphError(None, CONNECT_ERROR, "refused").transient
    assert GraphError(None, "TransportError", "reset").transient
    assert GraphError(503, "ServiceUnavailable", "busy").transient


def test_credential_without_its_settings_names_what_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    run = run_cli("plan", EXAMPLES, "--credential", "client-secret")
    assert run.exit_code == 1
    assert run.stderr.startswith("error: ") and "AZURE_CLIENT_ID" in run.stderr
    assert "AZURE_CLIENT_SECRET" in run.stderr  # every missing setting at once
    assert len(run.stderr.splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """client-secret settings whose sign-in endpoint refuses connections (no network)."""
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000e1")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000e2")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-secret")


def _identity_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("azure.identity")]


def test_auth_failure_is_one_line_naming_the_credential(
        unreachable_login: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="azure")
    run = run_cli("plan", EXAMPLES, "--credential", "client-secret")
    assert run.exit_code == 1
    assert len(run.stderr.splitlines()) == 1, run.stderr
    line = run.stderr.strip()
    assert line.startswith("error: authentication to Microsoft Graph failed with "
                           "--credential client-secret (ClientSecretCredential): ")
    # nothing answered at the authority: the hint is the network / AZURE_AUTHORITY_HOST, not
    # the client settings (which were never judged)
    port = os.environ["AZURE_AUTHORITY_HOST"].rsplit(":", 1)[1]
    assert line == (
        "error: authentication to Microsoft Graph failed with --credential client-secret "
        f"(ClientSecretCredential): Cannot connect to host 127.0.0.1:{port} [Connect call "
        f"failed ('127.0.0.1', {port})]; check the network (proxy, firewall, DNS) and "
        "AZURE_AUTHORITY_HOST (unset: https://login.microsoftonline.com) (details: --verbose)")
    assert "AZURE_CLIENT_SECRET" not in line
    assert "Traceback" not in run.stderr + run.stdout
    # azure-identity's own "get_token failed" warning (the second copy) is not emitted
    assert not [m for m in _identity_records(caplog) if "failed" in m]


def test_auth_failure_details_under_verbose(
        unreachable_login: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="azure")
    run = run_cli("--verbose", "plan", EXAMPLES, "--credential", "client-secret")
    assert run.exit_code == 1
    first, *details = run.stderr.splitlines()
    assert first.startswith("error: authentication to Microsoft Graph failed with "
                            "--credential client-secret")
    assert details[0] == "details:" and "127.0.0.1" in "\n".join(details)
    assert any("ClientSecretCredential.get_token failed" in m
               for m in _identity_records(caplog))
    assert "Traceback" not in run.stderr


def test_default_credential_failure_is_one_line(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """DefaultAzureCredential logs its whole multi-line chain report as a warning and raises
    it again: one line remains, the chain report only under --verbose."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import aio

    report = ("DefaultAzureCredential failed to retrieve a token from the included "
              "credentials.\nAttempted credentials:\n\tEnvironmentCredential: "
              "Environment variables are not fully configured.\n\tAzureCliCredential: "
              "Azure CLI not found on path")

    class DefaultAzureCredential:  # fails as the real one does where nothing is set up
        async def get_token(self, *_scopes: str, **_kwargs: object) -> None:
            logging.getLogger("azure.identity.aio._credentials.chained").warning(report)
            raise ClientAuthenticationError(message=report)

        async def close(self) -> None:
            return None

    monkeypatch.setattr(aio, "DefaultAzureCredential", DefaultAzureCredential)
    caplog.set_level(logging.DEBUG, logger="azure")
    run = run_cli("plan", EXAMPLES)
    assert run.exit_code == 1
    assert run.stderr.splitlines() == [
        "error: authentication to Microsoft Graph failed with --credential default "
        "(DefaultAzureCredential): none of the credentials it tries got a token; set "
        "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, sign in with `az login`, "
        "choose another --credential, or try the tool without a tenant with --emulator FILE "
        "(details: --verbose)"]
    assert not _identity_records(caplog)

    run = run_cli("--verbose", "plan", EXAMPLES)
    assert run.exit_code == 1
    assert "AzureCliCredential: Azure CLI not found on path" in run.stderr
    records = _identity_records(caplog)
    assert records and set(records) == {report}  # one per token request


def test_malformed_tenant_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "tenant.yaml"
    bad.write_text("now: [\n")
    run = run_cli("plan", EXAMPLES, "--emulator", str(bad))
    assert run.exit_code == 1
    assert run.stderr.startswith(f"error: cannot load tenant file {bad}")


def test_transport_names_a_url_it_cannot_send_to() -> None:
    import asyncio

    import httpx
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider

    from reconciler.graph.errors import BAD_URL, GraphError
    from reconciler.graph.transport import GraphHttp

    async def attempt() -> GraphError:
        http = GraphHttp("not-a-url/v1.0", AnonymousAuthenticationProvider(),
                         httpx.AsyncHTTPTransport())
        try:
            await http.get_json("not-a-url/v1.0/groups")
        except GraphError as exc:
            return exc
        finally:
            await http.aclose()
        raise AssertionError("no error")

    error = asyncio.run(attempt())
    assert error.code == BAD_URL and error.status is None and not error.transient


@pytest.mark.parametrize(("env", "args", "line"), [
    ({"AZURE_AUTHORITY_HOST": "http://127.0.0.1:9"}, [],
     "error: AZURE_AUTHORITY_HOST 'http://127.0.0.1:9' is not an https URL; a token service is "
     "only ever asked over TLS: give its https:// address (e.g. "
     "https://login.microsoftonline.us), or unset AZURE_AUTHORITY_HOST"),
    ({}, ["--tenant", "bad/tenant!"],
     "error: --credential client-secret cannot be built: Invalid tenant ID provided. "),
], ids=["http-authority", "invalid-tenant"])
def test_a_setting_azure_identity_refuses_is_one_line(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], args: list[str], line: str) -> None:
    """azure-identity raised ValueError from the credential's constructor: a traceback."""
    for name, value in {"AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
                        "AZURE_CLIENT_SECRET": "not-a-secret", **env}.items():
        monkeypatch.setenv(name, value)
    run = run_cli("plan", EXAMPLES, "--graph-url", "http://127.0.0.1:9/v1.0",
                  "--credential", "client-secret", *args)
    assert run.exit_code == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), run.stderr
    assert "not-a-secret" not in run.stderr


NOW = "2026-12-01T12:00:00Z"  # the example tenant's `now`
WRONG_BASE = ("the base URL is likely wrong: it must end in /v1.0 (e.g. "
              "https://graph.microsoft.com/v1.0, or http://127.0.0.1:PORT/v1.0 for "
              "`pim-reconciler emulator serve`); check --graph-url")


def _served_example(**extra: object) -> AbstractContextManager[str]:
    """The example tenant (with `extra` top-level keys) served on 127.0.0.1; yields its URL."""
    from reconciler.emulator.fixture import load_tenant, read_fixture
    from reconciler.emulator.server import running_server

    data = read_fixture(ROOT / "examples" / "tenant.yaml")
    data.update(extra)
    return running_server(load_tenant(data))


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_a_served_emulator_without_v1_suffix_says_the_base_url_is_wrong(command: str) -> None:
    """The `$batch` envelope's 404 has no Graph error body: it never reached Graph's v1.0."""
    with _served_example() as url:
        base = url.removesuffix("/v1.0")
        run = run_cli("--now", NOW, command, EXAMPLES, "--graph-url", base)
    assert run.exit_code == 1
    assert run.stderr == (
        f"error: Microsoft Graph: 404 error: $batch request failed: {base} answered HTTP 404 "
        f"without Graph's JSON error body: {WRONG_BASE}\n")


def test_graphs_own_404_with_its_error_body_is_kept() -> None:
    import re

    with _served_example(faults=[{"match": "POST /$batch", "times": 1, "status": 404}]) as url:
        run = run_cli("--now", NOW, "plan", EXAMPLES, "--graph-url", url)
    assert run.exit_code == 1
    assert re.fullmatch(
        r"error: Microsoft Graph: 404 ResourceNotFound: \$batch request failed: Injected fault "
        r"\(ResourceNotFound\)\. \[request-id [0-9a-f-]{36}\]\n", run.stderr), run.stderr
    assert "base URL" not in run.stderr


def test_not_graph_404_rewrites_only_a_404_without_a_code() -> None:
    from reconciler.graph.errors import GraphError, not_graph_404

    bare = GraphError(404, None, "The server returned an unexpected status code and the error "
                      "body could not be parsed (status 404)", request_id="r-1", retry_after=2)
    rewritten = not_graph_404(bare, "http://127.0.0.1:9/api")
    assert (rewritten.status, rewritten.code, rewritten.request_id, rewritten.retry_after) == (
        404, None, "r-1", 2)
    assert rewritten.message == (
        f"http://127.0.0.1:9/api answered HTTP 404 without Graph's JSON error body: {WRONG_BASE}")
    graphs = GraphError(404, "ResourceNotFound", "no such group")
    assert not_graph_404(graphs, "x") is graphs
    other = GraphError(400, None, "HTTP 400")
    assert not_graph_404(other, "x") is other
