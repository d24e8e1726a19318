"""`emulator serve --tls-cert --tls-key`: the real CLI in a subprocess serves Graph and the
token endpoint over HTTPS on 127.0.0.1, with a certificate made at test time."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme
import yaml
from cryptography.hazmat.primitives import serialization

from reconciler.emulator.server import Tls, TlsUnusable, check_tls

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


def _serve_tls(cert: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--state",
         str(EXAMPLE_TENANT), "--tls-cert", cert, "--tls-key", key],
        capture_output=True, text=True, timeout=30, check=False)


def test_a_key_given_as_the_certificate_is_one_line_before_any_url(pki: Pki) -> None:
    run = _serve_tls(pki.server.keyfile, pki.server.keyfile)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"Error: --tls-cert {pki.server.keyfile} holds no PEM certificate\n"


def test_a_certificate_given_as_the_key_is_one_line(pki: Pki) -> None:
    run = _serve_tls(pki.server.certfile, pki.server.certfile)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"Error: --tls-key {pki.server.certfile} holds no PEM private key\n"


def test_a_key_that_does_not_match_the_certificate_is_one_line(
    pki: Pki, tmp_path: Path
) -> None:
    other = tmp_path / "other.key"
    trustme.CA().issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other))
    run = _serve_tls(pki.server.certfile, str(other))
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == (
        f"Error: --tls-key {other} is not the private key of --tls-cert {pki.server.certfile}\n")


def test_check_tls_accepts_a_matching_pair_and_refuses_an_encrypted_key(
    pki: Pki, tmp_path: Path
) -> None:
    check_tls(pki.server)  # the good pair loads
    locked = tmp_path / "locked.key"
    key = serialization.load_pem_private_key(
        Path(pki.server.keyfile).read_bytes(), password=None)
    locked.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))
    with pytest.raises(TlsUnusable) as caught:  # refused, never prompting on the terminal
        check_tls(Tls(pki.server.certfile, str(locked)))
    assert str(caught.value) == f"--tls-key {locked} is encrypted; give an unencrypted key"
