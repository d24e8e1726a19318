"""The emulator's token service: Entra ID's v2.0 client-credentials endpoint, enough of it for
azure-identity's confidential clients, and the bearer tokens Graph routes honour.

Applications (fixture `applications:`, each like Entra's `application` resource): `appId`,
`displayName`, `passwordCredentials` (`secretText`, optional `endDateTime`),
`keyCredentials` (`key`: a PEM certificate, for certificate credentials),
`federatedIdentityCredentials` (`name`, `issuer`, `subject`, `audiences`: Entra's
federatedIdentityCredential resource) and `grantedPermissions`: the application permissions
(app roles) granted to its service principal, which become the token's `roles`.

`POST /{tenant}/oauth2/v2.0/token` (`grant_type=client_credentials`, `scope`, `client_id`, then
`client_secret`, or `client_assertion` with `client_assertion_type=urn:ietf:params:oauth:
client-assertion-type:jwt-bearer`) validates in Entra's order and answers Entra's error JSON:
`error`, `error_description` (`AADSTSnnn: message` then trace id, correlation id, timestamp
lines), `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.

Codes, with their evidence (Microsoft's AADSTS reference,
https://learn.microsoft.com/entra/identity-platform/reference-error-codes, only points to
login.microsoftonline.com/error; messages and HTTP statuses below are as seen in public
issue threads):
- AADSTS700016 unknown client, 400 `unauthorized_client` [message seen: many threads, e.g.
  msgraph-sdk-dotnet #454; status inferred].
- AADSTS7000215 wrong secret, 401 `invalid_client` [seen with status and full JSON:
  microsoft-365-agents-toolkit #8621, Azure/sap-automation #418].
- AADSTS7000222 expired secret, 401 `invalid_client` [inferred: same family].
- AADSTS7000218 neither secret nor assertion, 401 `invalid_client` [message seen:
  Azure-Samples/active-directory-dotnetcore-console-up-v2 #10; status inferred].
- AADSTS70021 no federated credential for the assertion's issuer, 400 `invalid_request`
  [seen with status and full JSON: Azure/azure-workload-identity #616; MicrosoftDocs
  azure-docs #97700 for a wrong issuer].
- AADSTS700213 issuer known, subject not (matching is case-sensitive) [seen: Azure/login #482,
  #453, #517]. The brief asked for 70021 here; Entra has answered subject mismatches with
  700213 since 2023, so the emulator follows the evidence. 400 `invalid_client` [inferred].
- AADSTS700212 issuer and subject match, audience does not [message as Entra's 70021x family;
  code unconfirmed in public threads], 400 `invalid_client` [inferred].
- AADSTS700024 assertion outside its time range (`nbf`/`exp`, 5 minutes of skew), 400
  `invalid_client` [message seen: Azure/login #180, MSAL Java #984; `invalid_client` seen in
  obikuro/Sato #1; status inferred].
- AADSTS50027 an assertion that is no JWT, 400 `invalid_request` [inferred].
- AADSTS700027 a certificate assertion signed by no registered key, 401 `invalid_client`
  [inferred].
- AADSTS90002 unknown tenant, 400 `invalid_request`; AADSTS900144 missing `client_id`, 400;
  AADSTS70003 unsupported grant type, 400 `unsupported_grant_type`; AADSTS1002012 a scope
  that is not `RESOURCE/.default`, 400 `invalid_scope`; AADSTS500011 a resource other than
  Graph, 400 `invalid_resource` [inferred].

The external IdP's signature on a federated assertion is not checked (Entra fetches the
issuer's keys; the emulator is offline): issuer, subject, audience and time range are.
Certificate assertions (`iss` = `sub` = the client id) are checked for real: the `x5t#S256`
(or `x5t`) thumbprint must name a registered certificate whose key verifies the PS256 / RS256
signature, and `aud` must be this token endpoint.

Access tokens are Graph's v1.0 app-only tokens: HS256-signed with a key this service keeps
(never published); claims `aud` https://graph.microsoft.com, `iss`
https://sts.windows.net/{tid}/, `tid`, `appid`, `azp`, `oid`/`sub` (the app's service
principal id when the tenant has one), `idtyp` app, `roles`, `iat`/`nbf`/`exp` (seconds since
the epoch, from the tenant's clock) and `uti`. `expires_in` is 3599 s.

`verify(bearer)` gives the roles of a token this service issued, or raises `TokenRejected`
with Graph's 401 `InvalidAuthenticationToken` message [inferred from Graph's answers to bad
tokens: "Access token validation failure. Invalid audience.", "Lifetime validation failed,
the token is expired.", "CompactToken parsing failed with error code: 80049217"].

Without `applications:` the service still signs in one synthetic application (the in-process
target's), whose roles are the tenant's `granted_permissions` (every permission the emulator
knows when that is unset), so anonymous and signed-in use agree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from reconciler.clock import Clock
from reconciler.emulator import ids, timefmt, values

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
"""Microsoft Graph's own application id: `00000003-.../.default` names the same resource."""
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME_S = 3599
ASSERTION_SKEW = timedelta(minutes=5)
DEFAULT_TENANT_ID = ids.derived_id("tenant", "emulator")
SYNTHETIC_APP_ID = ids.derived_id("appId", "pim-reconciler emulator target")


class TokenError(Exception):
    """An Entra error answer: HTTP `status`, OAuth `error`, AADSTS `code`, `message`."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message


class TokenRejected(Exception):
    """A bearer token Graph refuses (401 `InvalidAuthenticationToken`); `str()` is Graph's
    message."""


@dataclass
class FederatedCredential:
    """Entra's federatedIdentityCredential: trust tokens of `issuer` for `subject` with one of
    `audiences` (matching is exact and case-sensitive)."""

    name: str
    issuer: str
    subject: str
    audiences: list[str] = field(default_factory=lambda: ["api://AzureADTokenExchange"])


@dataclass
class Application:
    """An app registration that can sign in. `secrets`: (secretText, endDateTime or None);
    `certificates`: PEM certificates (public); `roles`: granted application permissions."""

    app_id: str
    display_name: str
    secrets: list[tuple[str, datetime | None]] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)
    federated: list[FederatedCredential] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


@dataclass
class TokenLogEntry:
    """One answered token request: the client id, how it authenticated (`secret`,
    `federated`, `certificate` or None when refused before that), and the AADSTS code of a
    refusal (None when a token was issued)."""

    client_id: str
    method: str | None
    error_code: int | None
    access_token: str | None = field(default=None, repr=False)
    """The token issued (tests assert it never leaks into output)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS. Raises `ValueError` when
    `token` is no JWT. Nothing is verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWT")
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise ValueError("not a compact JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a compact JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _entra_time(dt: datetime) -> str:
    return timefmt.format_time(dt)


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


class IdentityService:
    """Issues and verifies tokens for one tenant. Thread-safe (its own lock).

    `clock` is the tenant's; `granted` a callable giving the tenant's `granted_permissions`
    (for the synthetic application); `object_id_of(app_id)` the service principal id of an
    app, or None.
    """

    def __init__(self, clock: Clock, granted: Any = None, object_id_of: Any = None,
                 all_permissions: list[str] | None = None) -> None:
        self.clock = clock
        self.tenant_id = DEFAULT_TENANT_ID
        self.domains: list[str] = []
        self.applications: dict[str, Application] = {}
        self.token_log: list[TokenLogEntry] = []
        self.token_lifetime_s = TOKEN_LIFETIME_S
        """`expires_in` of the tokens issued (tests shorten it to force renewals)."""
        self._granted = granted or (lambda: None)
        self._object_id_of = object_id_of or (lambda _app_id: None)
        self._all_permissions = list(all_permissions or [])
        self._key = secrets.token_bytes(32)
        self._inner_secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- applications ----------------------------------------------------------------------

    def add_application(self, app: Application) -> None:
        """Register `app` (replacing one with the same app id)."""
        with self._lock:
            self.applications[app.app_id] = app

    def default_app_id(self) -> str:
        """The app the in-process target signs in as: the first registered, else the
        synthetic one."""
        return next(iter(self.applications), SYNTHETIC_APP_ID)

    def sign_in_secret(self, app_id: str) -> str:
        """A secret for `app_id` that lives only in this process (never in a fixture), so the
        in-process target can sign in as an app that has only federated credentials."""
        with self._lock:
            return self._inner_secrets.setdefault(app_id, secrets.token_urlsafe(32))

    def _app(self, client_id: str) -> Application | None:
        app = self.applications.get(client_id)
        if app is None and client_id == SYNTHETIC_APP_ID and not self.applications:
            granted = self._granted()
            roles = sorted(granted) if granted is not None else list(self._all_permissions)
            app = Application(SYNTHETIC_APP_ID, "pim-reconciler (emulator target)", roles=roles)
        return app

    def knows_tenant(self, tenant: str) -> bool:
        """True for this tenant's id or one of its `domains` (case-insensitive)."""
        low = tenant.lower()
        return low == self.tenant_id.lower() or low in (d.lower() for d in self.domains)

    # -- the token endpoint ----------------------------------------------------------------

    def token_response(self, tenant: str, raw_body: bytes, token_url: str
                       ) -> tuple[int, dict[str, Any]]:
        """Answer `POST /{tenant}/oauth2/v2.0/token` with form body `raw_body`: (HTTP status,
        JSON body). `token_url` is the URL the client posted to (a certificate assertion's
        `aud`)."""
        form = {k: v[0] for k, v in parse_qs(raw_body.decode("utf-8", "replace")).items()}
        client_id = form.get("client_id", "")
        method: list[str | None] = [None]
        try:
            body = self._issue(tenant, form, token_url, method)
        except TokenError as exc:
            with self._lock:
                self.token_log.append(TokenLogEntry(client_id, method[0], exc.code))
            return exc.status, self.error_body(exc)
        with self._lock:
            self.token_log.append(
                TokenLogEntry(client_id, method[0], None, body["access_token"]))
        return 200, body

    def error_body(self, exc: TokenError) -> dict[str, Any]:
        """Entra's error JSON for `exc` (fresh trace and correlation ids)."""
        now = self.clock.now().astimezone(UTC)
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = ids.new_guid(), ids.new_guid()
        return {
            "error": exc.error,
            "error_description": f"AADSTS{exc.code}: {exc.message}\r\nTrace ID: {trace}\r\n"
                                 f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [exc.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={exc.code}",
        }

    def _issue(self, tenant: str, form: dict[str, str], token_url: str,
               method: list[str | None]) -> dict[str, Any]:
        if not self.knows_tenant(tenant):
            raise TokenError(400, "invalid_request", 90002,
                             f"Tenant '{tenant}' not found. Check to make sure you have the "
                             "correct tenant ID and are signing into the correct cloud.")
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            raise TokenError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant}'.")
        client_id = form.get("client_id", "")
        if not client_id:
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: "
                             "'client_id'.")
        app = self._app(client_id)
        if app is None:
            raise TokenError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in "
                             f"the directory '{tenant}'. This can happen if the application "
                             "has not been installed by the administrator of the tenant or "
                             "consented to by any user in the tenant. You may have sent your "
                             "authentication request to the wrong tenant.")
        self._check_scope(form.get("scope", ""), tenant)
        if "client_secret" in form:
            method[0] = "secret"
            self._check_secret(app, form["client_secret"])
        elif "client_assertion" in form:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise TokenError(400, "invalid_request", 700023,
                                 "Invalid client assertion type.")
            method[0] = self._check_assertion(app, form["client_assertion"], token_url)
        else:
            raise TokenError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        return {"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                "ext_expires_in": self.token_lifetime_s, "access_token": self._mint(app)}

    @staticmethod
    def _check_scope(scope: str, tenant: str) -> None:
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise TokenError(400, "invalid_scope", 1002012,
                             f"The provided value for scope {scope} is not valid. Client "
                             "credential flows must have a scope value with /.default "
                             "suffixed to the resource identifier (application ID URI).")
        resource = scopes[0][: -len("/.default")].rstrip("/")
        if resource not in (GRAPH_AUDIENCE, GRAPH_APP_ID):
            raise TokenError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the "
                             f"tenant named {tenant}. This can happen if the application has "
                             "not been installed by the administrator of the tenant or "
                             "consented to by any user in the tenant. You might have sent "
                             "your authentication request to the wrong tenant.")

    def _check_secret(self, app: Application, given: str) -> None:
        now = self.clock.now()
        inner = self._inner_secrets.get(app.app_id)
        if inner is not None and hmac.compare_digest(inner, given):
            return
        matched = [end for text, end in app.secrets if hmac.compare_digest(text, given)]
        if not matched:
            raise TokenError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent "
                             "in the request is the client secret value, not the client "
                             f"secret ID, for a secret added to app '{app.app_id}'.")
        if all(end is not None and end <= now for end in matched):
            raise TokenError(401, "invalid_client", 7000222,
                             f"The provided client secret keys for app '{app.app_id}' are "
                             "expired. Visit the Azure portal to create new keys for your "
                             "app.")

    def _check_assertion(self, app: Application, assertion: str, token_url: str) -> str:
        try:
            header, claims, signed, signature = parse_jwt(assertion)
        except ValueError:
            raise TokenError(400, "invalid_request", 50027,
                             "JWT token is invalid or malformed.") from None
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        audiences = claims.get("aud")
        aud_list = [str(a) for a in audiences] if isinstance(audiences, list) else [
            str(audiences or "")]
        if issuer == app.app_id and subject == app.app_id:
            self._check_certificate(app, header, signed, signature, aud_list, token_url)
            self._check_time(claims)
            return "certificate"
        records = [f for f in app.federated if f.issuer == issuer]
        if not records:
            raise TokenError(400, "invalid_request", 70021,
                             "No matching federated identity record found for presented "
                             f"assertion. Assertion Issuer: '{issuer}'. Assertion Subject: "
                             f"'{subject}'. Assertion Audience: '{','.join(aud_list)}'. "
                             "https://learn.microsoft.com/entra/workload-id/"
                             "workload-identity-federation")
        records = [f for f in records if f.subject == subject]
        if not records:
            raise TokenError(400, "invalid_client", 700213,
                             "No matching federated identity record found for presented "
                             f"assertion subject '{subject}'. Check your federated identity "
                             "credential Subject, Audience and Issuer against the presented "
                             "assertion. https://learn.microsoft.com/entra/workload-id/"
                             "workload-identity-federation")
        if not any(a in f.audiences for f in records for a in aud_list):
            raise TokenError(400, "invalid_client", 700212,
                             "No matching federated identity record found for presented "
                             f"assertion audience '{','.join(aud_list)}'. Check your "
                             "federated identity credential Subject, Audience and Issuer "
                             "against the presented assertion. https://learn.microsoft.com/"
                             "entra/workload-id/workload-identity-federation")
        self._check_time(claims)
        return "federated"

    def _check_time(self, claims: dict[str, Any]) -> None:
        now = self.clock.now()
        start, end = _epoch(claims.get("nbf")), _epoch(claims.get("exp"))
        early = start is not None and now + ASSERTION_SKEW < start
        late = end is None or end + ASSERTION_SKEW <= now
        if early or late:
            shown_start = _entra_time(start or datetime(1970, 1, 1, tzinfo=UTC))
            shown_end = _entra_time(end) if end else "(none)"
            raise TokenError(400, "invalid_client", 700024,
                             "Client assertion is not within its valid time range. Current "
                             f"time: {_entra_time(now)}, assertion valid from {shown_start}, "
                             f"expiry time of assertion {shown_end}. Review the documentation "
                             "at https://learn.microsoft.com/entra/identity-platform/"
                             "certificate-credentials .")

    def _check_certificate(self, app: Application, header: dict[str, Any], signed: bytes,
                           signature: bytes, audiences: list[str], token_url: str) -> None:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        refused = TokenError(401, "invalid_client", 700027,
                             "The certificate with identifier used to sign the client "
                             "assertion is not registered on application. [Reason - The key "
                             f"was not found., Thumbprint of key used by client: "
                             f"'{header.get('x5t#S256') or header.get('x5t') or ''}']")
        sha256_given = str(header.get("x5t#S256") or "").rstrip("=")
        sha1_given = str(header.get("x5t") or "").rstrip("=")
        for pem in app.certificates:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
            if sha256_given:
                if sha256_given != _b64url(cert.fingerprint(hashes.SHA256())):
                    continue
            elif sha1_given != _b64url(cert.fingerprint(hashes.SHA1())):  # a thumbprint only
                continue
            key: Any = cert.public_key()
            pad = (padding.PSS(padding.MGF1(hashes.SHA256()), hashes.SHA256().digest_size)
                   if header.get("alg") == "PS256" else padding.PKCS1v15())
            try:
                key.verify(signature, signed, pad, hashes.SHA256())
            except InvalidSignature:
                raise refused from None
            if token_url not in audiences:
                raise TokenError(400, "invalid_client", 700212,
                                 "The audience of the client assertion "
                                 f"'{','.join(audiences)}' is not this token endpoint.")
            return
        raise refused

    def _mint(self, app: Application) -> str:
        now = self.clock.now()
        issued = int(now.timestamp())
        oid = self._object_id_of(app.app_id) or ids.derived_id("servicePrincipal", app.app_id)
        claims = {
            "aud": GRAPH_AUDIENCE,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.token_lifetime_s,
            "app_displayname": app.display_name,
            "appid": app.app_id,
            "azp": app.app_id,
            "idtyp": "app",
            "oid": oid,
            "sub": oid,
            "roles": list(app.roles),
            "tid": self.tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        header = {"typ": "JWT", "alg": "HS256", "kid": "pim-emulator"}
        signing = (f"{_b64url(json.dumps(header).encode())}."
                   f"{_b64url(json.dumps(claims).encode())}")
        signature = hmac.new(self._key, signing.encode("ascii"), hashlib.sha256).digest()
        return f"{signing}.{_b64url(signature)}"

    # -- Graph's side ----------------------------------------------------------------------

    def verify(self, authorization: str) -> frozenset[str]:
        """The `roles` of the bearer token in an `Authorization` header value. Raises
        `TokenRejected` (Graph's 401 message) for a token this service did not issue, one for
        another audience or tenant, or one past `exp` on the tenant's clock."""
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRejected("Access token is empty.")
        try:
            header, claims, signed, signature = parse_jwt(token)
        except ValueError:
            raise TokenRejected("CompactToken parsing failed with error code: 80049217") from None
        expected = hmac.new(self._key, signed, hashlib.sha256).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(expected, signature):
            raise TokenRejected("Access token validation failure.")
        if claims.get("aud") not in (GRAPH_AUDIENCE, GRAPH_AUDIENCE + "/", GRAPH_APP_ID):
            raise TokenRejected("Access token validation failure. Invalid audience.")
        if claims.get("tid") != self.tenant_id:
            raise TokenRejected("Access token validation failure. Invalid issuer.")
        end = _epoch(claims.get("exp"))
        if end is None or end <= self.clock.now():
            raise TokenRejected("Lifetime validation failed, the token is expired.")
        roles = claims.get("roles")
        return frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset()

    # -- discovery ---------------------------------------------------------------------------

    def openid_configuration(self, base_url: str, tenant: str) -> dict[str, Any]:
        """The v2.0 OpenID configuration document MSAL reads for an authority
        (`{base_url}/{tenant}/v2.0/.well-known/openid-configuration`)."""
        root = f"{base_url}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base_url}/{self.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "tenant_region_scope": None,
            "cloud_instance_name": "emulator.invalid",
        }


def load_applications(service: IdentityService, raw: Any, now: datetime) -> None:
    """Register the fixture's `applications:` entries (`raw`: the list, or None). Raises
    `ValueError` naming the entry (`applications[0]: missing appId`,
    `applications[0].passwordCredentials[1]: missing secretText`,
    `applications[0].keyCredentials[0].key is not a PEM certificate`; positions count from 0)
    for a missing key or a malformed value."""
    for where, entry in values.mapping_list(raw, "applications"):
        app_id = values.required_text(entry, "appId", where)
        app_secrets = []
        for cred_where, cred in values.mapping_list(entry.get("passwordCredentials"),
                                                    f"{where}.passwordCredentials"):
            secret = values.required_text(cred, "secretText", cred_where)
            end = cred.get("endDateTime")
            try:
                ends = timefmt.resolve_fixture_time(end, now) if end else None
            except ValueError as exc:
                raise ValueError(f"{cred_where}.endDateTime: {exc}") from None
            app_secrets.append((secret, ends))
        federated = []
        for cred_where, cred in values.mapping_list(entry.get("federatedIdentityCredentials"),
                                                    f"{where}.federatedIdentityCredentials"):
            issuer = values.required_text(cred, "issuer", cred_where)
            subject = values.required_text(cred, "subject", cred_where)
            audiences = values.string_list(cred.get("audiences"), f"{cred_where}.audiences")
            federated.append(FederatedCredential(
                values.text(cred.get("name"), f"{cred_where}.name") or subject, issuer, subject,
                audiences or ["api://AzureADTokenExchange"]))
        certificates = []
        for cred_where, cred in values.mapping_list(entry.get("keyCredentials"),
                                                    f"{where}.keyCredentials"):
            pem = values.text(cred.get("key"), f"{cred_where}.key")
            if pem:  # an entry without `key` is skipped (docs/emulator.md)
                certificates.append(_checked_certificate(pem, f"{cred_where}.key"))
        service.add_application(Application(
            app_id, values.text(entry.get("displayName"), f"{where}.displayName") or app_id,
            app_secrets, certificates, federated,
            values.string_list(entry.get("grantedPermissions"), f"{where}.grantedPermissions")))


def _checked_certificate(pem: str, where: str) -> str:
    """`pem` when it holds a PEM X.509 certificate (so a token request never meets a file
    mistake); raises `ValueError` `"{where} is not a PEM certificate"` otherwise."""
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:  # UnicodeEncodeError included
        raise ValueError(f"{where} is not a PEM certificate") from None
    return pem


def dump_applications(service: IdentityService) -> list[dict[str, Any]]:
    """The fixture form of the registered applications (secrets included: a fixture is the
    tenant's whole state)."""
    out = []
    for app in service.applications.values():
        row: dict[str, Any] = {"appId": app.app_id, "displayName": app.display_name}
        if app.secrets:
            row["passwordCredentials"] = [
                {"secretText": text} | ({"endDateTime": timefmt.format_time(end)} if end else {})
                for text, end in app.secrets]
        if app.certificates:
            row["keyCredentials"] = [{"key": pem} for pem in app.certificates]
        if app.federated:
            row["federatedIdentityCredentials"] = [
                {"name": f.name, "issuer": f.issuer, "subject": f.subject,
                 "audiences": list(f.audiences)} for f in app.federated]
        row["grantedPermissions"] = list(app.roles)
        out.append(row)
    return out
