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
import re
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
CREDENTIALS = ("default", "workload-identity", "github-oidc", "client-secret", "certificate")


class CredentialConfigError(ValueError):
    """A credential choice that cannot be built from the environment, or whose own inputs
    (the GitHub OIDC request) fail. `problem` names what is missing or failed; `fix` what to
    do about exactly that (None: nothing more specific than the problem); `str()` is one line,
    `problem; fix`."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


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

OIDC_JOB_FIX = ("run in a GitHub Actions job with `permissions: id-token: write`, or choose "
                "another --credential")
"""What to do when `--credential github-oidc` has no GitHub OIDC request to make."""


REASON_LIMIT = 300
"""The longest `AuthenticationFailed.reason`, in characters (cut at a word boundary)."""

CONNECT_FIX = ("check the network (proxy, firewall, DNS) and AZURE_AUTHORITY_HOST (unset: "
               "https://login.microsoftonline.com)")
"""What to check when the token service could not be reached."""

CERTIFICATE_FIX = ("the token service's certificate is not trusted: give its CA with "
                   "SSL_CERT_FILE (a TLS-inspecting proxy's, or AZURE_AUTHORITY_HOST's own "
                   "CA), and check AZURE_AUTHORITY_HOST")
"""What to check when the token service's TLS certificate failed verification."""

_CERTIFICATE_FAILURE = re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed",
                                  re.IGNORECASE)
_CONNECT_FAILURE = re.compile(
    r"cannot connect to host|connect call failed|connection refused|connecterror|"
    r"failed to establish a new connection|name or service not known|"
    r"temporary failure in name resolution|nodename nor servname|getaddrinfo failed|"
    r"network is unreachable|no route to host", re.IGNORECASE)
_AADSTS = re.compile(r"\bAADSTS\d+\b")


class AuthenticationFailed(Exception):
    """azure-identity could not get a Graph token. `str()` is one line: the credential tried
    (`--credential` choice and azure-identity class), the first line of its reason, and what
    to set; `details` is azure-identity's full message, for `--verbose`."""

    def __init__(self, kind: str, credential: str, error: BaseException) -> None:
        self.kind = kind
        self.credential = credential
        self.details = str(error).strip() or type(error).__name__
        super().__init__(self.line())

    def _first(self) -> str:
        return self.details.splitlines()[0].strip()

    @property
    def connection_failure(self) -> str | None:
        """"certificate" when the token service's TLS certificate failed verification,
        "connect" when it could not be reached (refused, DNS, unreachable), else None. Judged
        on the first line of `details` (a DefaultAzureCredential chain report is neither)."""
        first = self._first()
        if _CERTIFICATE_FAILURE.search(first):
            return "certificate"
        if _CONNECT_FAILURE.search(first):
            return "connect"
        return None

    @property
    def reason(self) -> str:
        """The first line of azure-identity's message, at most `REASON_LIMIT` characters, cut
        at a word boundary (then `...`), always holding the AADSTS code when the message has
        one. Noise is dropped: the unmatched quote azure-identity opens after `Microsoft
        Entra ID error` (it closes it lines later), aiohttp's `ssl:<...>` and `(_ssl.c:N)`."""
        first = self._first()
        if first.startswith(f"{self.credential} failed to retrieve a token"):
            return "none of the credentials it tries got a token"
        if not first.endswith("'"):
            first = re.sub(r"^(Microsoft Entra ID error )'", r"\1", first)
        first = re.sub(r" ssl:(?:<[^>]*>|\w+)", "", first)
        first = re.sub(r" \(_ssl\.c:\d+\)", "", first)
        if len(first) > REASON_LIMIT:
            cut = first[:REASON_LIMIT - 3]
            if not first[REASON_LIMIT - 3].isspace() and " " in cut:
                cut = cut[:cut.rindex(" ")]  # drop the word the limit falls in
            first = cut.rstrip(" ,;:-.") + "..."
        code = _AADSTS.search(self.details)
        if code and code.group(0) not in first:
            first = f"{first} ({code.group(0)})"
        return first

    @property
    def hint(self) -> str:
        """What to set or check: for a connection failure `CONNECT_FIX`, for a certificate
        failure `CERTIFICATE_FIX`, else what this `--credential` choice needs
        (`WHAT_TO_SET`)."""
        failure = self.connection_failure
        if failure == "certificate":
            return CERTIFICATE_FIX
        if failure == "connect":
            return CONNECT_FIX
        return WHAT_TO_SET.get(self.kind, "choose another --credential")

    def failure(self) -> str:
        """The line without the hint: which credential failed and why, for a caller that
        shows `hint` apart (doctor's `fix:`)."""
        return (f"authentication to Microsoft Graph failed with --credential {self.kind} "
                f"({self.credential}): {self.reason}")

    def line(self) -> str:
        return f"{self.failure()}; {self.hint} (details: --verbose)"


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
    `transport` is injectable for tests; `verify` is True or a CA bundle path. Raises
    `CredentialConfigError` when the variables are missing (the workflow needs
    `permissions: id-token: write`), and a call raises it when the request cannot be made,
    GitHub refuses it or answers without a token (azure-identity passes the callback's
    exception through `get_token` unchanged).
    """

    def __init__(self, env: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 verify: bool | str = True) -> None:
        env = os.environ if env is None else env
        self._url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        self._token = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not self._url or not self._token:
            missing = [name for name, value in (("ACTIONS_ID_TOKEN_REQUEST_URL", self._url),
                                                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", self._token))
                       if not value]
            raise CredentialConfigError(
                f"--credential github-oidc needs {' and '.join(missing)}, which GitHub Actions "
                "sets only in a job allowed to request an OIDC token",
                fix=OIDC_JOB_FIX)
        self._transport = transport
        self._verify = verify

    def __call__(self) -> str:
        verify: Any = self._verify
        if isinstance(verify, str):  # a CA bundle path (httpx wants an SSL context for it)
            verify = ssl.create_default_context(cafile=verify)
        try:
            with httpx.Client(transport=self._transport, timeout=30.0, verify=verify) as client:
                # the URL already carries a query (api-version): merge, do not replace it
                url = httpx.URL(self._url or "").copy_merge_params({"audience": GITHUB_AUDIENCE})
                resp = client.get(url, headers={"Authorization": f"bearer {self._token}"})
        except httpx.HTTPError as exc:  # else the Graph transport would blame --graph-url
            raise CredentialConfigError(
                "the GitHub OIDC token request (ACTIONS_ID_TOKEN_REQUEST_URL) could not be "
                f"made: {type(exc).__name__}: {(str(exc).strip() or 'no detail').splitlines()[0]}",
                fix="check the network (proxy, firewall) to ACTIONS_ID_TOKEN_REQUEST_URL and, "
                "behind a TLS-inspecting proxy, give its CA with SSL_CERT_FILE") from None
        if resp.status_code != 200:
            raise CredentialConfigError(
                f"the GitHub OIDC token request (ACTIONS_ID_TOKEN_REQUEST_URL) failed with "
                f"HTTP {resp.status_code}",
                fix="use the ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN GitHub Actions set in this "
                "very job (they are per job and expire with it); " + OIDC_JOB_FIX)
        try:
            body = resp.json()
        except ValueError:  # not JSON: not GitHub's token endpoint
            body = None
        value = body.get("value") if isinstance(body, dict) else None
        if not value:
            raise CredentialConfigError(
                "the GitHub OIDC token response (ACTIONS_ID_TOKEN_REQUEST_URL) has no value",
                fix="check that ACTIONS_ID_TOKEN_REQUEST_URL is GitHub's OIDC token endpoint")
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
            f"--credential {kind} needs {', '.join(missing)}",
            fix=f"set {'it' if len(missing) == 1 else 'them'}, or use --emulator FILE to try "
            "the tool without a tenant")
    return tenant_id


MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn", "login.microsoftonline.de", "login.windows.net",
    "login.microsoft.com", "sts.windows.net",
})
"""Entra's own authority hosts (azure-identity's `AzureAuthorityHosts` and their aliases):
instance discovery stays on for these and is switched off for any other host."""


def authority_options(env: Mapping[str, str]) -> dict[str, Any]:
    """azure-identity keyword arguments for the authority in `env`: `AZURE_AUTHORITY_HOST`
    (azure-identity's own variable, e.g. `https://login.microsoftonline.us` or a local token
    service `https://127.0.0.1:8443`) as `authority`, with `disable_instance_discovery=True`
    when its host is not one of `MICROSOFT_AUTHORITY_HOSTS` (MSAL would otherwise ask
    login.microsoftonline.com to validate it). Empty without the variable."""
    host = (env.get("AZURE_AUTHORITY_HOST") or "").strip()
    if not host:
        return {}
    url = httpx.URL(host if "://" in host else f"https://{host}")
    if url.scheme != "https" or not url.host:
        raise CredentialConfigError(
            f"AZURE_AUTHORITY_HOST {host!r} is not an https URL",
            fix="a token service is only ever asked over TLS: give its https:// address "
                "(e.g. https://login.microsoftonline.us), or unset AZURE_AUTHORITY_HOST")
    name = url.host.lower()
    options: dict[str, Any] = {"authority": host}
    if name not in MICROSOFT_AUTHORITY_HOSTS:
        options["disable_instance_discovery"] = True
    return options


def build_credential(kind: str, tenant: str | None, env: Mapping[str, str] | None = None,
                     **options: Any) -> NamedCredential:
    """An async azure-identity credential for `kind` (one of `CREDENTIALS`), wrapped in a
    `NamedCredential`.

    `env` (default `os.environ`) gives the settings, `AZURE_AUTHORITY_HOST` included (see
    `authority_options`); `options` go to the azure-identity credential as they are (e.g.
    `connection_verify="ca.pem"`, a CA bundle path for a token service with a private CA;
    the GitHub OIDC request of `github-oidc` trusts the same).
    Raises `CredentialConfigError` naming the missing setting, or the setting azure-identity
    refused (its `ValueError`, e.g. a tenant id with characters no tenant id has).
    """
    try:
        inner = _azure_credential(kind, tenant, env, options)
    except CredentialConfigError:
        raise
    except ValueError as exc:  # azure-identity's checks of its inputs
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CredentialConfigError(f"--credential {kind} cannot be built: {reason}",
                                    fix=WHAT_TO_SET.get(kind)) from None
    return NamedCredential(kind, inner)


def _azure_credential(kind: str, tenant: str | None, env: Mapping[str, str] | None,
                      options: dict[str, Any]) -> Any:
    from azure.identity import aio

    env = os.environ if env is None else env
    options = {**authority_options(env), **options}
    if kind == "default":
        options.pop("disable_instance_discovery", None)
        return aio.DefaultAzureCredential(**options)
    if kind not in CREDENTIALS:
        raise CredentialConfigError(f"unknown credential {kind!r}",
                                    fix=f"use one of {', '.join(CREDENTIALS)}")
    tenant_id = _tenant_or_missing(kind, tenant or env.get("AZURE_TENANT_ID"), env)
    client_id = env["AZURE_CLIENT_ID"]
    if kind == "workload-identity":
        return aio.WorkloadIdentityCredential(tenant_id=tenant_id, client_id=client_id,
                                              token_file_path=env["AZURE_FEDERATED_TOKEN_FILE"],
                                              **options)
    if kind == "github-oidc":
        assertion = GitHubOidcAssertion(env, verify=options.get("connection_verify", True))
        return aio.ClientAssertionCredential(tenant_id, client_id, assertion, **options)
    if kind == "client-secret":
        return aio.ClientSecretCredential(tenant_id, client_id, env["AZURE_CLIENT_SECRET"],
                                          **options)
    return aio.CertificateCredential(tenant_id, client_id,
                                     certificate_path=env["AZURE_CLIENT_CERTIFICATE_PATH"],
                                     password=env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
                                     **options)


class GraphTokenProvider:
    """A kiota `AccessTokenProvider` asking `credential` for the Graph scope
    (`https://graph.microsoft.com/.default`) whatever the request's host: for a Graph
    look-alike at another address (the in-process emulator at `http://emulator.invalid`),
    where kiota's azure-identity provider would derive the scope from the host and refuse
    plain http. The token goes only into the `Authorization` header."""

    def __init__(self, credential: Any) -> None:
        from kiota_abstractions.authentication import AllowedHostsValidator

        self._credential = credential
        self._hosts = AllowedHostsValidator([])

    async def get_authorization_token(self, uri: str,
                                      additional_authentication_context: Any = None) -> str:
        token = await self._credential.get_token(GRAPH_SCOPE)
        return str(token.token)

    def get_allowed_hosts_validator(self) -> Any:
        return self._hosts


def bearer_provider(credential: Any) -> Any:
    """A kiota authentication provider sending `credential`'s Graph token as bearer to any
    host (see `GraphTokenProvider`)."""
    from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider

    return BaseBearerTokenAuthenticationProvider(GraphTokenProvider(credential))


TOKEN_CLAIMS = ("appid", "azp", "tid", "roles", "aud", "idtyp", "exp")
"""The claims a pre-flight check may show: who (app id), where (tenant), what (roles); never
the token or its signature."""


def token_claims(token: str) -> dict[str, Any] | None:
    """The `TOKEN_CLAIMS` of a JWT access token (unverified, like `token_roles`): `appid`
    (v1 tokens) or `azp` (v2) the application's client id, `tid` the tenant id, `roles` the
    app roles, `exp` the expiry (seconds since the epoch). None if it is no JWT. Nothing else
    of the token is returned, so a caller cannot print it by accident."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict):
        return None
    return {name: claims[name] for name in TOKEN_CLAIMS if name in claims}


def token_roles(token: str) -> frozenset[str] | None:
    """The app roles (`roles` claim) of a JWT access token, without verifying it (the token
    came from Entra over TLS; this only informs a pre-flight check). None if it is no JWT;
    empty when it carries no `roles` list."""
    claims = token_claims(token)
    if claims is None:
        return None
    roles = claims.get("roles")
    if not isinstance(roles, list):
        return frozenset()
    return frozenset(str(r) for r in roles)
