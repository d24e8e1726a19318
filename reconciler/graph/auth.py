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

A token that cannot be had becomes one `AuthenticationFailed` naming the credential tried and
what to set; azure-identity's own report (its log lines, its multi-line message) is kept for
`--verbose` (`identity_logging`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
CREDENTIALS = ("default", "workload-identity", "github-oidc", "client-secret", "certificate")


class CredentialConfigError(ValueError):
    """A credential choice that cannot be built from the environment (names what is missing)."""


WHAT_TO_SET = {
    "default": "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, sign in with "
               "`az login`, choose another --credential, or try the tool without a tenant "
               "with --emulator FILE",
    "client-secret": "check AZURE_TENANT_ID (or --tenant), AZURE_CLIENT_ID and "
                     "AZURE_CLIENT_SECRET",
    "certificate": "check AZURE_TENANT_ID (or --tenant), AZURE_CLIENT_ID, "
                   "AZURE_CLIENT_CERTIFICATE_PATH and AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "workload-identity": "check AZURE_TENANT_ID (or --tenant), AZURE_CLIENT_ID, "
                         "AZURE_FEDERATED_TOKEN_FILE and the app's federated credential",
    "github-oidc": "check AZURE_TENANT_ID (or --tenant), AZURE_CLIENT_ID and the app's "
                   "federated credential for this repository and branch",
}
"""What a user sets (or checks) when `--credential KIND` gets no token."""


class AuthenticationFailed(Exception):
    """azure-identity could not get a Graph token. `str()` is one line: the credential tried
    (`--credential` choice and azure-identity class), the first line of its reason, and what
    to set; `details` is azure-identity's full message, for `--verbose`."""

    def __init__(self, kind: str, credential: str, error: BaseException) -> None:
        self.kind = kind
        self.credential = credential
        self.details = str(error).strip() or type(error).__name__
        super().__init__(self.line())

    @property
    def reason(self) -> str:
        first = self.details.splitlines()[0].strip()
        if first.startswith(f"{self.credential} failed to retrieve a token"):
            return "none of the credentials it tries got a token"
        return first if len(first) <= 200 else first[:197] + "..."

    def line(self) -> str:
        hint = WHAT_TO_SET.get(self.kind, "choose --credential")
        return (f"authentication to Microsoft Graph failed with --credential {self.kind} "
                f"({self.credential}): {self.reason}; {hint} (details: --verbose)")


class NamedCredential:
    """An async azure-identity credential that knows which `--credential` choice it is, so
    a failed token request raises `AuthenticationFailed` naming it. Delegates `get_token`
    and `close`; `inner` is the azure-identity credential."""

    def __init__(self, kind: str, inner: Any) -> None:
        self.kind = kind
        self.inner = inner

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import AzureError

        try:
            return await self.inner.get_token(*scopes, **kwargs)
        except AzureError as exc:
            raise AuthenticationFailed(self.kind, type(self.inner).__name__, exc) from exc

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> NamedCredential:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


def identity_logging(verbose: bool) -> None:
    """azure-identity logs each failed token request as a WARNING, which Python prints when
    the application configured no logging: the same failure twice, then ours. Quiet unless
    `verbose`, when its lines are the details."""
    logging.getLogger("azure.identity").setLevel(logging.NOTSET if verbose else logging.ERROR)


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


_NEEDS = {
    "workload-identity": ("AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"),
    "github-oidc": ("AZURE_CLIENT_ID",),
    "client-secret": ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"),
    "certificate": ("AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH"),
}
"""Environment variables each explicit credential needs, besides a tenant."""


def _tenant_or_missing(kind: str, tenant_id: str | None, env: Mapping[str, str]) -> str:
    """The tenant, once every setting `kind` needs is there; else `CredentialConfigError`
    naming every missing one at once."""
    missing = [] if tenant_id else ["a tenant (--tenant, settings or AZURE_TENANT_ID)"]
    missing += [name for name in _NEEDS[kind] if not env.get(name)]
    if missing or not tenant_id:
        raise CredentialConfigError(
            f"--credential {kind} needs {', '.join(missing)}; set "
            f"{'it' if len(missing) == 1 else 'them'}, or use --emulator FILE to try the tool "
            "without a tenant")
    return tenant_id


def build_credential(kind: str, tenant: str | None,
                     env: Mapping[str, str] | None = None) -> NamedCredential:
    """An async azure-identity credential for `kind` (one of `CREDENTIALS`), wrapped in a
    `NamedCredential`.

    Raises `CredentialConfigError` naming the missing setting.
    """
    return NamedCredential(kind, _azure_credential(kind, tenant, env))


def _azure_credential(kind: str, tenant: str | None, env: Mapping[str, str] | None) -> Any:
    from azure.identity import aio

    env = os.environ if env is None else env
    if kind == "default":
        return aio.DefaultAzureCredential()
    if kind not in CREDENTIALS:
        raise CredentialConfigError(f"unknown credential {kind!r}; use one of {CREDENTIALS}")
    tenant_id = _tenant_or_missing(kind, tenant or env.get("AZURE_TENANT_ID"), env)
    client_id = env["AZURE_CLIENT_ID"]
    if kind == "workload-identity":
        return aio.WorkloadIdentityCredential(tenant_id=tenant_id, client_id=client_id,
                                              token_file_path=env["AZURE_FEDERATED_TOKEN_FILE"])
    if kind == "github-oidc":
        return aio.ClientAssertionCredential(tenant_id, client_id, GitHubOidcAssertion(env))
    if kind == "client-secret":
        return aio.ClientSecretCredential(tenant_id, client_id, env["AZURE_CLIENT_SECRET"])
    return aio.CertificateCredential(tenant_id, client_id,
                                     certificate_path=env["AZURE_CLIENT_CERTIFICATE_PATH"],
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
