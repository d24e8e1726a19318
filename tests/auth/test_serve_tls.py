"""`emulator serve --tls-cert --tls-key`: the real CLI in a subprocess serves Graph and the
token endpoint over HTTPS on 127.0.0.1, with a certificate made at test time."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from .conftest import EXAMPLE_TENANT, Pki
from .helpers import TENANT_ID, WRITER_APP, applications


def test_serve_over_https_signs_in_and_answers_graph(pki: Pki, tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE_TENANT.read_text(encoding="utf-8"))
    data["tenant_id"] = TENANT_ID
    data["applications"] = applications("the-secret", "other")
    state = tmp_path / "tenant.yaml"
    state.write_text(yaml.safe_dump(data), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--state", str(state),
         "--tls-cert", pki.server.certfile, "--tls-key", pki.server.keyfile],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:") and url.endswith("/v1.0")
        root = url.removesuffix("/v1.0")
        with httpx.Client(verify=ssl.create_default_context(cafile=pki.ca_pem)) as client:
            for _ in range(200):
                try:
                    doc = client.get(f"{root}/{TENANT_ID}/v2.0/.well-known/openid-configuration")
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            assert doc.json()["token_endpoint"] == f"{root}/{TENANT_ID}/oauth2/v2.0/token"
            token = client.post(doc.json()["token_endpoint"], data={
                "grant_type": "client_credentials", "client_id": WRITER_APP,
                "client_secret": "the-secret", "scope": "https://graph.microsoft.com/.default"})
            assert token.status_code == 200
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            user = client.get(f"{url}/users/dana.levi@contoso.example", headers=auth)
            assert user.status_code == 200 and user.json()["displayName"]
            forged = client.get(f"{url}/users/dana.levi@contoso.example",
                                headers={"Authorization": "Bearer x.y.z"})
            assert forged.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tls_cert_without_key_is_a_usage_error(pki: Pki) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--state",
         str(EXAMPLE_TENANT), "--tls-cert", pki.server.certfile],
        capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 1
    assert "--tls-cert and --tls-key go together" in run.stderr
