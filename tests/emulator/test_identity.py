"""The emulator's token service and the bearer tokens its Graph routes honour (in-process, no
server): Entra's error JSON, discovery, roles from the token, 401 for bad tokens, `$batch`
sub-requests inheriting the envelope's token, the fixture round trip."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from reconciler.clock import FixedClock
from reconciler.emulator import permissions
from reconciler.emulator.fixture import dump_tenant, load_tenant
from reconciler.emulator.identity import SYNTHETIC_APP_ID, parse_jwt
from reconciler.emulator.tenant import Tenant

from .helpers import PAG, raw_client, run, small_fixture

TID = "11111111-2222-3333-4444-555555555555"
APP = "aaaaaaaa-0000-0000-0000-000000000001"
SECRET = "correct~horse~battery"
GITHUB = "https://token.actions.githubusercontent.com"
SCOPE = "https://graph.microsoft.com/.default"
READ_ELIGIBLE = "PrivilegedEligibilitySchedule.Read.AzureADGroup"


def _tenant(roles: list[str] | None = None) -> Tenant:
    data = small_fixture() | {"tenant_id": TID, "domains": ["contoso.example"], "applications": [
        {"appId": APP, "displayName": "ci", "passwordCredentials": [{"secretText": SECRET}],
         "federatedIdentityCredentials": [{"name": "prod", "issuer": GITHUB,
                                           "subject": "repo:o/r:environment:prod",
                                           "audiences": ["api://AzureADTokenExchange"]}],
         "grantedPermissions": roles if roles is not None else [READ_ELIGIBLE]}]}
    return load_tenant(data)


async def _token(client: httpx.AsyncClient, tenant: str = TID, **form: str) -> httpx.Response:
    body = {"grant_type": "client_credentials", "client_id": APP, "client_secret": SECRET,
            "scope": SCOPE} | form
    return await client.post(f"/{tenant}/oauth2/v2.0/token", data=body)


def _eligible(tenant: Tenant) -> str:
    gid = tenant.id_of("grp-app")
    return f"{PAG}/eligibilitySchedules?$filter=groupId eq '{gid}'"


def test_token_carries_the_apps_roles_and_the_tenants_clock() -> None:
    tenant = _tenant()

    async def go() -> dict[str, Any]:
        async with raw_client(tenant) as client:
            return (await _token(client, "contoso.example")).json()

    body = run(go())
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    _header, claims, _signed, _sig = parse_jwt(body["access_token"])
    assert claims["roles"] == [READ_ELIGIBLE] and claims["appid"] == APP == claims["azp"]
    assert claims["tid"] == TID and claims["aud"] == "https://graph.microsoft.com"
    assert claims["iat"] == int(tenant.now().timestamp())
    assert claims["exp"] == claims["iat"] + 3599
    assert tenant.request_log == []  # token requests are no Graph requests
    assert [(e.client_id, e.method, e.error_code) for e in tenant.identity.token_log] == [
        (APP, "secret", None)]


def test_refusals_answer_entras_error_json() -> None:
    tenant = _tenant()

    async def go() -> list[httpx.Response]:
        async with raw_client(tenant) as client:
            return [await _token(client, client_secret="wrong"),
                    await _token(client, client_id="bbbbbbbb-0000-0000-0000-000000000009"),
                    await _token(client, scope="https://management.azure.com/.default"),
                    await _token(client, tenant="99999999-0000-0000-0000-000000000000"),
                    await _token(client, client_secret="", client_assertion="not-a-jwt",
                                 client_assertion_type="urn:ietf:params:oauth:"
                                 "client-assertion-type:jwt-bearer")]

    bad_secret, unknown, resource, no_tenant, malformed = run(go())
    assert bad_secret.status_code == 401
    body = bad_secret.json()
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id",
                         "correlation_id", "error_uri"}
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert f"Trace ID: {body['trace_id']}" in body["error_description"]
    assert body["timestamp"] == "2026-12-01 12:00:00Z"
    assert SECRET not in json.dumps(body) and "wrong" not in json.dumps(body)
    assert (unknown.status_code, unknown.json()["error_codes"]) == (400, [700016])
    assert (resource.status_code, resource.json()["error_codes"]) == (400, [500011])
    assert (no_tenant.status_code, no_tenant.json()["error_codes"]) == (400, [90002])
    # (an empty form field is no field, as for any form parser): the assertion is no JWT
    assert (malformed.status_code, malformed.json()["error_codes"]) == (400, [50027])


def test_openid_configuration_names_this_token_endpoint() -> None:
    tenant = _tenant()

    async def go() -> httpx.Response:
        async with raw_client(tenant) as client:
            return await client.get(f"/{TID}/v2.0/.well-known/openid-configuration")

    doc = run(go()).json()
    assert doc["token_endpoint"] == f"http://emulator/{TID}/oauth2/v2.0/token"
    assert doc["issuer"] == f"http://emulator/{TID}/v2.0"
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]


def test_graph_uses_the_tokens_roles_and_anonymous_calls_the_tenants() -> None:
    tenant = _tenant(roles=["User.Read.All"])  # no PIM read
    tenant.granted_permissions = None  # anonymous: all granted

    async def go() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with raw_client(tenant) as client:
            token = (await _token(client)).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            return (await client.get(_eligible(tenant), headers=auth),
                    await client.get("/v1.0/users/alex@contoso.example", headers=auth),
                    await client.get(_eligible(tenant)))

    denied, allowed, anonymous = run(go())
    assert denied.status_code == 403
    inner = json.loads(denied.json()["error"]["message"])
    assert inner["errorCode"] == "PermissionScopeNotGranted"
    assert READ_ELIGIBLE in inner["message"]
    assert allowed.status_code == 200 and anonymous.status_code == 200


def test_bad_or_expired_tokens_get_401_invalid_authentication_token() -> None:
    tenant = _tenant()
    other = _tenant()  # another emulator instance signs with another key
    clock = tenant.clock
    assert isinstance(clock, FixedClock)

    async def go() -> list[httpx.Response]:
        async with raw_client(tenant) as client, raw_client(other) as foreign:
            good = (await _token(client)).json()["access_token"]
            forged = (await _token(foreign)).json()["access_token"]
            answers = [await client.get(_eligible(tenant), headers={"Authorization": value})
                       for value in (f"Bearer {forged}", "Bearer abc", "Bearer ")]
            clock.advance(timedelta(seconds=3600))
            answers.append(await client.get(_eligible(tenant),
                                            headers={"Authorization": f"Bearer {good}"}))
            return answers

    answers = run(go())
    assert [a.status_code for a in answers] == [401] * 4
    assert {a.json()["error"]["code"] for a in answers} == {"InvalidAuthenticationToken"}
    assert [a.json()["error"]["message"] for a in answers] == [
        "Access token validation failure.",
        "CompactToken parsing failed with error code: 80049217",
        "Access token is empty.",
        "Lifetime validation failed, the token is expired."]
    assert all(a.headers["WWW-Authenticate"].startswith("Bearer ") for a in answers)


def test_batch_sub_requests_inherit_the_envelopes_token() -> None:
    tenant = _tenant(roles=["User.Read.All"])
    url = _eligible(tenant).removeprefix("/v1.0")
    batch = {"requests": [{"id": "1", "method": "GET", "url": url},
                          {"id": "2", "method": "GET", "url": "/users/alex@contoso.example",
                           # a sub-request's own header does not replace the envelope's token
                           "headers": {"Authorization": "Bearer not-a-token"}}]}

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with raw_client(tenant) as client:
            token = (await _token(client)).json()["access_token"]
            signed = await client.post("/v1.0/$batch", json=batch,
                                       headers={"Authorization": f"Bearer {token}"})
            anonymous = await client.post("/v1.0/$batch", json=batch)
            return signed.json(), anonymous.json()

    verified: list[str] = []
    verify = tenant.identity.verify

    def counting(authorization: str) -> frozenset[str]:
        verified.append(authorization)
        return verify(authorization)

    tenant.identity.verify = counting  # type: ignore[method-assign]
    signed, anonymous = run(go())
    assert {r["id"]: r["status"] for r in signed["responses"]} == {"1": 403, "2": 200}
    assert {r["id"]: r["status"] for r in anonymous["responses"]} == {"1": 200, "2": 200}
    assert len(verified) == 1  # the envelope's token, checked once for both sub-requests


def test_synthetic_app_without_applications() -> None:
    tenant = load_tenant(small_fixture())
    service = tenant.identity
    assert service.default_app_id() == SYNTHETIC_APP_ID
    secret = service.sign_in_secret(SYNTHETIC_APP_ID)

    async def roles() -> list[str]:
        async with raw_client(tenant) as client:
            body = (await _token(client, service.tenant_id, client_id=SYNTHETIC_APP_ID,
                                 client_secret=secret)).json()
            return parse_jwt(body["access_token"])[1]["roles"]

    assert run(roles()) == permissions.ALL  # granted_permissions unset: all granted
    tenant.granted_permissions = {READ_ELIGIBLE}
    assert run(roles()) == [READ_ELIGIBLE]


def test_fixture_round_trip_keeps_sign_in() -> None:
    tenant = _tenant()
    dumped = dump_tenant(tenant)
    assert dumped["tenant_id"] == TID and dumped["domains"] == ["contoso.example"]
    assert dumped["applications"][0]["passwordCredentials"] == [{"secretText": SECRET}]
    again = load_tenant(dumped)
    assert dump_tenant(again)["applications"] == dumped["applications"]
    plain = dump_tenant(load_tenant(small_fixture()))
    assert not {"tenant_id", "domains", "applications"} & set(plain)
