"""Sign-in fixtures: a CA made at test time (trustme), the example tenant with app
registrations served over HTTPS as Graph and as the token authority, and a fake GitHub OIDC
endpoint, all on 127.0.0.1."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from reconciler.clock import Clock
from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.server import Tls, running_server
from reconciler.emulator.tenant import Tenant

from .helpers import TENANT_ID, WRITER_APP, FakeGitHub, applications, serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TENANT = ROOT / "examples" / "tenant.yaml"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Pki:
    ca_pem: str  # path of the CA certificate clients trust
    server: Tls  # 127.0.0.1 / localhost
    client_pem: str  # path: RSA private key + certificate, for CertificateCredential
    client_cert_pem: str  # the certificate alone (the app registration's keyCredential)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(folder / "server.pem"), append=True)
    server.private_key_pem.write_to_path(str(folder / "server.key"))
    client = ca.issue_cert("pim-reconciler-cert", key_type=trustme.KeyType.RSA)
    client.private_key_and_cert_chain_pem.write_to_path(str(folder / "client.pem"))
    # Subprocesses trust the CA through SSL_CERT_FILE; a credential run in this process uses
    # aiohttp's verifying SSL context, which aiohttp builds once at import (whichever test
    # imported it first, before SSL_CERT_FILE was set): give that context the CA as well, or
    # the in-process tests pass or fail with the test order.
    from aiohttp import connector

    connector._SSL_CONTEXT_VERIFIED.load_verify_locations(str(folder / "ca.pem"))
    return Pki(str(folder / "ca.pem"), Tls(str(folder / "server.pem"), str(folder / "server.key")),
               str(folder / "client.pem"), client.cert_chain_pems[0].bytes().decode("ascii"))


@dataclass
class World:
    """A served tenant (`graph_url`, `authority`) and a fake GitHub (`github`), with the
    secrets they know."""

    tenant: Tenant
    graph_url: str
    authority: str
    github: FakeGitHub
    github_url: str
    secret: str
    limited_secret: str
    pki: Pki
    tenant_file: Path

    def env(self, client_id: str = WRITER_APP, **extra: str) -> dict[str, str]:
        """The environment a CI job gives the tool: tenant, client, authority, GitHub's OIDC
        variables and the CA to trust."""
        return {"AZURE_TENANT_ID": TENANT_ID, "AZURE_CLIENT_ID": client_id,
                "AZURE_AUTHORITY_HOST": self.authority, "SSL_CERT_FILE": self.pki.ca_pem,
                **self.github.env(self.github_url), **extra}

    def issued_tokens(self) -> list[str]:
        return [e.access_token for e in self.tenant.identity.token_log if e.access_token]


@pytest.fixture
def make_world(pki: Pki, tmp_path: Path) -> Iterator[Callable[..., World]]:
    stack: list[Any] = []

    def make(clock: Clock | None = None, audiences: list[str] | None = None) -> World:
        data = yaml.safe_load(EXAMPLE_TENANT.read_text(encoding="utf-8"))
        secret, limited = "s3cret~" + secrets.token_urlsafe(24), "l1m~" + secrets.token_urlsafe(24)
        data["tenant_id"] = TENANT_ID
        data["domains"] = ["contoso.onmicrosoft.com"]  # the example settings' `tenant`
        data["applications"] = applications(secret, limited, pki.client_cert_pem, audiences)
        tenant_file = tmp_path / "tenant.yaml"
        tenant_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        tenant = load_tenant(data, clock=clock)
        github = FakeGitHub(tenant.clock)
        graph = running_server(tenant, tls=pki.server)
        gh = serving(github.app(), pki.server)
        stack.extend([graph, gh])
        graph_url = graph.__enter__()
        github_url = gh.__enter__()
        return World(tenant, graph_url, graph_url.removesuffix("/v1.0"), github, github_url,
                     secret, limited, pki, tenant_file)

    yield make
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
