"""`doctor --graph-url URL --credential client-secret` against the tenant served over HTTPS
says it signed in, never "anonymous"."""

from __future__ import annotations

import json

from click.testing import CliRunner

from reconciler.cli import cli

from .conftest import World
from .helpers import WRITER_APP
from .test_cli_sign_in import EXAMPLES, NOW


def test_signed_in_url_target_is_not_called_anonymous(world: World) -> None:
    result = CliRunner().invoke(
        cli, ["--now", NOW, "doctor", EXAMPLES, "--graph-url", world.graph_url,
              "--credential", "client-secret", "--format", "json"],
        env=world.env(AZURE_CLIENT_SECRET=world.secret))
    assert result.exit_code == 0, result.stdout + result.stderr
    body = json.loads(result.stdout)
    target = f"Graph-compatible URL {world.graph_url}, signed in with --credential client-secret"
    assert body["target"] == target
    credential = body["checks"][0]
    assert credential["check"] == "credential" and credential["status"] == "ok"
    assert credential["message"].startswith(
        f"target: {target}; token obtained (ClientSecretCredential) for app {WRITER_APP} in "
        "tenant ")
    assert "anonymous" not in result.stdout
