"""azure-identity's real async credentials, built by `graph.auth.build_credential`, against the
emulator's token service over HTTPS (a CA made at test time) as their authority, instance
discovery off, and a fake GitHub OIDC endpoint. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from azure.identity import aio

from reconciler.clock import SystemClock
from reconciler.graph.auth import (
    GRAPH_SCOPE,
    AuthenticationFailed,
    CredentialConfigError,
    GitHubOidcAssertion,
    authority_options,
    build_credential,
    token_roles,
)

from .conftest import World
from .helpers import (
    CERT_APP,
    EXCHANGE_AUDIENCE,
    GITHUB_ISSUER,
    READ_ROLES,
    SUBJECT,
    TENANT_ID,
    WRITER_APP,
    claims_of,
)

pytestmark = pytest.mark.anyio


def _credential(world: World, kind: str, **env: str):
    # the CA is trusted through azure-identity's transport option, not the process env
    return build_credential(kind, None, world.env(**env), connection_verify=world.pki.ca_pem)


async def test_github_oidc_fetches_a_fresh_assertion_for_every_token(world: World) -> None:
    world.tenant.identity.token_lifetime_s = 0  # every token is expired at once: renewals
    async with _credential(world, "github-oidc") as credential:
        assert isinstance(credential.inner, aio.ClientAssertionCredential)
        first = await credential.get_token(GRAPH_SCOPE)
        second = await credential.get_token(GRAPH_SCOPE)
    assert first.token != second.token
    assert world.issued_tokens() == [first.token, second.token]
    # one GitHub request per token, each with the job's request token and both parameters
    assert len(world.github.hits) == 2 and world.github.refused == 0
    for hit in world.github.hits:
        assert hit["authorization"] == f"bearer {world.github.request_token}"
        assert hit["params"] == {"api-version": "2.0", "audience": EXCHANGE_AUDIENCE}
    assert len(set(world.github.minted)) == 2
    assert [claims_of(a)["aud"] for a in world.github.minted] == [EXCHANGE_AUDIENCE] * 2
    log = world.tenant.identity.token_log
    assert [(e.client_id, e.method, e.error_code) for e in log] == [
        (WRITER_APP, "federated", None)] * 2
    claims = claims_of(first.token)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == TENANT_ID and claims["appid"] == claims["azp"] == WRITER_APP
    assert claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert token_roles(first.token) == frozenset(READ_ROLES)
    # the emulator's clock (the tenant file's `now`), not the machine's, stamps the token
    assert claims["iat"] == int(world.tenant.clock.now().timestamp())


async def test_a_cached_token_needs_no_new_assertion(world: World) -> None:
    async with _credential(world, "github-oidc") as credential:
        first = await credential.get_token(GRAPH_SCOPE)
        again = await credential.get_token(GRAPH_SCOPE)
    assert again.token == first.token
    assert len(world.github.hits) == 1 and len(world.tenant.identity.token_log) == 1


async def test_each_credential_gets_its_own_assertion(world: World) -> None:
    for _ in range(2):
        async with _credential(world, "github-oidc") as credential:
            await credential.get_token(GRAPH_SCOPE)
    assert len(world.github.hits) == 2 and len(set(world.github.minted)) == 2


async def test_workload_identity_rereads_the_token_file(world: World, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-identity keeps the file's token for up to 10 minutes (a projected Kubernetes
    token outlives that) and reads the file again after: the rewritten token is the one
    presented then."""
    from azure.identity._credentials import workload_identity

    world.tenant.identity.token_lifetime_s = 0
    offset = [0.0]
    fake_time = type("FakeTime", (), {"time": staticmethod(lambda: time.time() + offset[0])})
    monkeypatch.setattr(workload_identity, "time", fake_time)
    token_file = tmp_path / "federated-token"
    env = {"AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    async with _credential(world, "workload-identity", **env) as credential:
        assert isinstance(credential.inner, aio.WorkloadIdentityCredential)
        token_file.write_text(world.github.mint(EXCHANGE_AUDIENCE), encoding="utf-8")
        await credential.get_token(GRAPH_SCOPE)
        world.github.subject = "repo:contoso/access:environment:staging"  # no federated record
        token_file.write_text(world.github.mint(EXCHANGE_AUDIENCE), encoding="utf-8")
        await credential.get_token(GRAPH_SCOPE)  # within 10 minutes: the token read before
        offset[0] = 601
        with pytest.raises(AuthenticationFailed) as failed:
            await credential.get_token(GRAPH_SCOPE)
    # the third token request presented the rewritten file, which Entra refuses
    assert "AADSTS700213" in str(failed.value)
    assert [e.error_code for e in world.tenant.identity.token_log] == [None, None, 700213]


async def test_client_secret_signs_in_and_a_wrong_one_is_refused(world: World) -> None:
    async with _credential(world, "client-secret", AZURE_CLIENT_SECRET=world.secret) as good:
        assert isinstance(good.inner, aio.ClientSecretCredential)
        token = await good.get_token(GRAPH_SCOPE)
    assert token_roles(token.token) == frozenset(READ_ROLES)
    async with _credential(world, "client-secret", AZURE_CLIENT_SECRET="not-it") as bad:
        with pytest.raises(AuthenticationFailed) as failed:
            await bad.get_token(GRAPH_SCOPE)
    line = str(failed.value)
    assert "--credential client-secret (ClientSecretCredential)" in line
    assert "AADSTS7000215: Invalid client secret provided" in line
    assert "not-it" not in line and world.secret not in line
    assert [e.error_code for e in world.tenant.identity.token_log] == [None, 7000215]


async def test_certificate_credential_signs_in(make_world: Callable[..., World]) -> None:
    world = make_world(clock=SystemClock())  # the assertion is stamped with real time
    env = {"AZURE_CLIENT_ID": CERT_APP, "AZURE_CLIENT_CERTIFICATE_PATH": world.pki.client_pem}
    async with _credential(world, "certificate", **env) as credential:
        assert isinstance(credential.inner, aio.CertificateCredential)
        token = await credential.get_token(GRAPH_SCOPE)
    assert claims_of(token.token)["appid"] == CERT_APP
    assert [(e.method, e.error_code) for e in world.tenant.identity.token_log] == [
        ("certificate", None)]


async def test_certificate_not_registered_is_refused(make_world: Callable[..., World],
                                                     pki, tmp_path: Path) -> None:
    import trustme

    world = make_world(clock=SystemClock())
    other = trustme.CA().issue_cert("someone-else", key_type=trustme.KeyType.RSA)
    path = tmp_path / "other.pem"
    other.private_key_and_cert_chain_pem.write_to_path(str(path))
    env = {"AZURE_CLIENT_ID": CERT_APP, "AZURE_CLIENT_CERTIFICATE_PATH": str(path)}
    async with _credential(world, "certificate", **env) as credential:
        with pytest.raises(AuthenticationFailed, match="AADSTS700027"):
            await credential.get_token(GRAPH_SCOPE)


@pytest.mark.parametrize(("setup", "code"), [
    ("wrong-audience", 700212),
    ("expired", 700024),
    ("wrong-subject", 700213),
    ("wrong-issuer", 70021),
    ("unknown-client", 700016),
])
async def test_refused_assertions_name_the_aadsts_code(make_world: Callable[..., World],
                                                       setup: str, code: int) -> None:
    world = make_world(audiences=["api://contoso-pim"] if setup == "wrong-audience" else None)
    env: dict[str, str] = {}
    if setup == "expired":
        world.github.expires_in = -600
    elif setup == "wrong-subject":
        world.github.subject = SUBJECT.upper()  # matching is case-sensitive
    elif setup == "wrong-issuer":
        world.tenant.identity.applications[WRITER_APP].federated[0].issuer = GITHUB_ISSUER + "/"
    elif setup == "unknown-client":
        env["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-000000000bad"
    async with _credential(world, "github-oidc", **env) as credential:
        with pytest.raises(AuthenticationFailed) as failed:
            await credential.get_token(GRAPH_SCOPE)
    line = str(failed.value)
    assert "\n" not in line
    assert line.startswith("authentication to Microsoft Graph failed with --credential "
                           "github-oidc (ClientAssertionCredential): ")
    assert f"AADSTS{code}:" in line
    assert not any(a in line or a in failed.value.details for a in world.github.minted)
    assert [e.error_code for e in world.tenant.identity.token_log] == [code]


def test_authority_host_switches_instance_discovery_off_for_other_hosts() -> None:
    assert authority_options({}) == {}
    assert authority_options({"AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us"}) == {
        "authority": "https://login.microsoftonline.us"}
    assert authority_options({"AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443"}) == {
        "authority": "https://127.0.0.1:8443", "disable_instance_discovery": True}


@pytest.mark.parametrize(("answer", "problem"), [
    (httpx.ConnectError("[Errno 111] Connection refused"),
     "the GitHub OIDC token request (ACTIONS_ID_TOKEN_REQUEST_URL) could not be made: "
     "ConnectError: [Errno 111] Connection refused"),
    (httpx.Response(200, text="<html>sign in</html>"),
     "the GitHub OIDC token response (ACTIONS_ID_TOKEN_REQUEST_URL) has no value"),
    (httpx.Response(200, json=["not", "an", "object"]),
     "the GitHub OIDC token response (ACTIONS_ID_TOKEN_REQUEST_URL) has no value"),
], ids=["unreachable", "not-json", "json-list"])
def test_github_oidc_failures_are_credential_errors(answer: object, problem: str) -> None:
    """Neither an httpx error (the Graph transport would take it for its own) nor a JSON
    decoding traceback leaves the callback."""
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    assertion = GitHubOidcAssertion(
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.test/idtoken?api-version=2.0",
         "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-token"}, transport=httpx.MockTransport(handle))
    with pytest.raises(CredentialConfigError) as caught:
        assertion()
    assert caught.value.problem == problem
    assert caught.value.fix and "ACTIONS_ID_TOKEN_REQUEST_URL" in caught.value.fix
    assert "req-token" not in str(caught.value)
