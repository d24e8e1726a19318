"""`doctor` names its target and says "anonymous" only when no credential is used, once.

Before, a `--graph-url` target was always "(anonymous)", even signed in with `--credential
client-secret`, and the anonymous credential line read "... (anonymous), anonymous (no
sign-in)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.server import running_server
from reconciler.preflight.checks import describe_target
from reconciler.targets import Target
from tests.cliutil import run_cli
from tests.doctor.test_doctor import NOW, OPS, READ_ALL_BUT_ASSIGNMENTS, tenant, write

URL = "https://graph.example.test/v1.0"


@pytest.mark.parametrize(("target", "expected"), [
    (Target(kind="url", graph_url=URL),
     f"Graph-compatible URL {URL}, anonymous (no sign-in)"),
    (Target(kind="url", graph_url=URL, credential="client-secret"),
     f"Graph-compatible URL {URL}, signed in with --credential client-secret"),
    (Target(kind="url", graph_url=URL, credential="github-oidc"),
     f"Graph-compatible URL {URL}, signed in with --credential github-oidc"),
    (Target(kind="graph", tenant="contoso.onmicrosoft.com", credential="client-secret"),
     "Microsoft Graph (tenant contoso.onmicrosoft.com)"),
    (Target(kind="emulator", emulator_file="t.yaml"), "in-process emulator serving t.yaml"),
])
def test_describe_target(target: Target, expected: str) -> None:
    assert describe_target(target) == expected


def test_anonymous_served_url_says_anonymous_once(tmp_path: Path) -> None:
    data = tenant(granted_permissions=[*READ_ALL_BUT_ASSIGNMENTS,
                                       "PrivilegedAssignmentSchedule.Read.AzureADGroup"])
    directory, _ = write(tmp_path, data, {"ops": OPS})
    with running_server(load_tenant(data)) as url:
        run = run_cli("--now", NOW, "doctor", directory, "--graph-url", url, "--format", "json")
    assert run.exit_code == 0, run.stdout
    body = run.json()
    assert body["target"] == f"Graph-compatible URL {url}, anonymous (no sign-in)"
    message = body["checks"][0]["message"]
    assert message.startswith(f"target: Graph-compatible URL {url}, anonymous (no sign-in); ")
    assert message.count("anonymous") == 1
