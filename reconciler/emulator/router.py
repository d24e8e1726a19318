"""Request dispatch: one Graph call (method, path below `/v1.0`, query, body) -> `Answer`.

Transport-free, so the ASGI app and `$batch` share it. Reads the bearer token (its roles are
the call's permissions; no token: anonymous), applies injected faults and permission checks,
then the endpoint found in the route table of the `routes_*` modules. An unknown path answers
400 `BadRequest`, a known path with another method 405.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reconciler.emulator import batch, ids, routes_directory, routes_pim, routes_policy
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import GraphError, envelope
from reconciler.emulator.identity import TokenRejected
from reconciler.emulator.routes_pim import PAG, REQUEST_COLLECTION
from reconciler.emulator.tenant import Tenant

__all__ = ["Answer", "Call", "dispatch"]


def dispatch(tenant: Tenant, call: Call) -> Answer:
    """Answer one call: faults, then permissions and the endpoint. Never raises GraphError."""
    request_id = ids.new_guid()
    client_request_id = call.headers.get("client-request-id") or request_id
    extra = sum(f.latency_ms for f in tenant.take_faults(call.method, call.path, ["latency"]))
    try:
        _authenticate(tenant, call)
        fired = tenant.take_faults(call.method, call.path, ["error"])
        if fired:
            fault = fired[0]
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            raise GraphError(
                fault.status or 500,
                fault.error_code,
                fault.message or f"Injected fault ({fault.error_code}).",
                headers,
            )
        answer = _route(tenant, call)
    except GraphError as exc:
        answer = Answer(
            exc.status,
            envelope(exc.code, exc.message, tenant.now(), request_id, client_request_id),
            dict(exc.headers),
        )
        if call.method == "POST" and routes_pim.is_request_collection(call.path):
            answer.action = routes_pim.body_action(call.body)
    answer.extra_latency_ms = extra
    answer.headers.setdefault("request-id", request_id)
    answer.headers.setdefault("client-request-id", client_request_id)
    return answer


UNAUTHORIZED_HEADERS = {
    "WWW-Authenticate": 'Bearer realm="", authorization_uri='
    '"https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
}


def _authenticate(tenant: Tenant, call: Call) -> None:
    """Set `call.roles` from its `Authorization: Bearer` token (a `$batch` sub-request keeps
    its envelope's); 401 `InvalidAuthenticationToken` for a token the emulator's identity
    service refuses. A call without `Authorization` stays anonymous."""
    authorization = call.headers.get("authorization")
    if call.batch_item or authorization is None:
        return
    try:
        call.roles = tenant.identity.verify(authorization)
    except TokenRejected as exc:
        raise GraphError(401, "InvalidAuthenticationToken", str(exc),
                         dict(UNAUTHORIZED_HEADERS)) from None


def _route(tenant: Tenant, call: Call) -> Answer:
    path = call.path.rstrip("/") or "/"
    known_path = False
    for method, pattern, fn in ROUTES:
        m = re.fullmatch(pattern, path, flags=re.IGNORECASE)
        if m is None:
            continue
        known_path = True
        if method == call.method:
            with tenant.lock:
                return fn(tenant, call, *m.groups())
    if known_path:
        raise GraphError(
            405, "Request_BadRequest", f"The HTTP method '{call.method}' is not allowed."
        )
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path.strip('/')}'.")


def _batch(tenant: Tenant, call: Call) -> Answer:
    return batch.run(tenant, call, dispatch)


ROUTES: list[tuple[str, str, Callable[..., Answer]]] = [
    ("GET", rf"{PAG}/{routes_pim.COLLECTION}", routes_pim.list_pim),
    ("GET", rf"{PAG}/{routes_pim.COLLECTION}/([^/]+)", routes_pim.get_pim),
    ("POST", rf"{PAG}/{REQUEST_COLLECTION}", routes_pim.create_request),
    ("POST", rf"{PAG}/{REQUEST_COLLECTION}/([^/]+)/cancel", routes_pim.cancel_request),
    *routes_policy.ROUTES,
    *routes_directory.ROUTES,
    ("POST", r"/\$batch", _batch),
]
"""(method, path pattern, handler): the first pattern that matches the whole path wins."""
