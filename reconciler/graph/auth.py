"""Credentials (azure-identity) and the application permissions a token carries.

Choices (issue 4): `default` = DefaultAzureCredential; `workload-identity` =
WorkloadIdentityCredential with `AZURE_FEDERATED_TOKEN_FILE`; `github-oidc` =
ClientAssertionCredential whose assertion callback fetches a *fresh* GitHub Actions OIDC token
(`ACTIONS_ID_TOKEN_REQUEST_URL` / `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience
`api://AzureADTokenExchange`) on every token request, because long applies outlive one
assertion; `client-secret` (`AZURE_CLIENT_SECRET`); `certificate`
(`AZURE_CLIENT_CERTIFICATE_PATH`, optional `AZURE_CLIENT_CERTIFICATE_PASSWORD`). Tenant from
the target or `AZURE_TENANT_ID`; client id from `AZURE_CLIENT_ID`. Tokens are never logged or
put into exception messages.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
CREDENTIALS = ("default", "workload-identity", "github-oidc", "client-secret", "certificate")


class CredentialConfigError(ValueError):
    """A credential choice that cannot be built from the environment (names what is missing)."""


class GitHubOidcAssertion:
    """Callable returning a fresh GitHub Actions OIDC token (a JWT) on every call.

    GETs `ACTIONS_ID_TOKEN_REQUEST_URL` with `audience=api://AzureADTokenExchange` and
    `Authorization: bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the answer is `{"value": jwt}`.
    `transport` is injectable for tests. Raises `CredentialConfigError` when the variables are
    missing (the workflow needs `permissions: id-token: write`).
    """

    def __init__(self, env: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        env = os.environ if env is None else env
        self._url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        self._token = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not self._url or not self._token:
            raise CredentialConfigError(
                "github-oidc needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN"
                " (set `permissions: id-token: write` in the workflow)")
        self._transport = transport

    def __call__(self) -> str:
        with httpx.Client(transport=self._transport, timeout=30.0) as client:
            # the URL already carries a query (api-version): merge, do not replace it
            url = httpx.URL(self._url or "").copy_merge_params({"audience": GITHUB_AUDIENCE})
            resp = client.get(url, headers={"Authorization": f"bearer {self._token}"})
        if resp.status_code != 200:
            raise CredentialConfigError(
                f"GitHub OIDC token request failed with HTTP {resp.status_code}")
        value = resp.json().get("value")
        if not value:
            raise CredentialConfigError("GitHub OIDC token response has no value")
        return str(value)


def _need(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name)
    if not value:
        raise CredentialConfigError(f"{why} needs {name}")
    return value


def build_credential(kind: str, tenant: str | None,
                     env: Mapping[str, str] | None = None) -> Any:
    """An async azure-identity credential for `kind` (one of `CREDENTIALS`).

    Raises `CredentialConfigError` naming the missing setting.
    """
    from azure.identity import aio

    env = os.environ if env is None else env
    tenant_id = tenant or env.get("AZURE_TENANT_ID")
    if kind == "default":
        return aio.DefaultAzureCredential()
    if kind not in CREDENTIALS:
        raise CredentialConfigError(f"unknown credential {kind!r}; use one of {CREDENTIALS}")
    if not tenant_id:
        raise CredentialConfigError(f"{kind} needs a tenant (--tenant, settings, AZURE_TENANT_ID)")
    client_id = _need(env, "AZURE_CLIENT_ID", kind)
    if kind == "workload-identity":
        token_file = _need(env, "AZURE_FEDERATED_TOKEN_FILE", kind)
        return aio.WorkloadIdentityCredential(tenant_id=tenant_id, client_id=client_id,
                                              token_file_path=token_file)
    if kind == "github-oidc":
        return aio.ClientAssertionCredential(tenant_id, client_id, GitHubOidcAssertion(env))
    if kind == "client-secret":
        return aio.ClientSecretCredential(tenant_id, client_id,
                                          _need(env, "AZURE_CLIENT_SECRET", kind))
    path = _need(env, "AZURE_CLIENT_CERTIFICATE_PATH", kind)
    return aio.CertificateCredential(tenant_id, client_id, certificate_path=path,
                                     password=env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD"))


def token_roles(token: str) -> frozenset[str] | None:
    """The app roles (`roles` claim) of a JWT access token, without verifying it (the token
    came from Entra over TLS; this only informs a pre-flight check). None if it is no JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    if not isinstance(roles, list):
        return frozenset()
    return frozenset(str(r) for r in roles)
