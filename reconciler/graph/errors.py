"""Typed Graph errors.

Every failure the adapter surfaces is a `GraphError` carrying Graph's `error.code`, the HTTP
status and the request-id (graph-pim-reference.md section 3: the standard envelope
`{"error": {"code", "message", "innerError": {"request-id", ...}}}`). A 403 for missing
application permissions arrives as `code == "UnknownError"` with a JSON *string* message holding
`{"errorCode": "PermissionScopeNotGranted", "message": ...}` (section 3.1, TF-1386); that inner
code is parsed into `inner_code`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class GraphError(Exception):
    """A Graph call that failed.

    `status` is the HTTP status (None for transport failures such as timeouts), `code` Graph's
    `error.code` (e.g. `RoleAssignmentExists`), `message` its message (for `UnknownError` the
    inner message), `request_id` from `innerError.request-id` or the `request-id` header, and
    `inner_code` the `errorCode` parsed from a JSON-string message (e.g.
    `PermissionScopeNotGranted`). `retry_after` is the `Retry-After` header in seconds, if any.
    """

    def __init__(
        self,
        status: int | None,
        code: str | None,
        message: str,
        *,
        request_id: str | None = None,
        inner_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        prefix = f"{status} " if status else ""
        suffix = f" [request-id {request_id}]" if request_id else ""
        super().__init__(f"{prefix}{code or 'error'}: {message}{suffix}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.inner_code = inner_code
        self.retry_after = retry_after

    @property
    def permission_denied(self) -> bool:
        """True for a 403 (missing application permission or another authorization refusal)."""
        return self.status == 403

    @property
    def transient(self) -> bool:
        """Throttling, server errors and transport failures: worth another try. A refused
        connection is not: nothing listens there (a wrong --graph-url), so fail fast; nor is
        a URL httpx cannot send to (no http:// or https://)."""
        if self.code in (CONNECT_ERROR, BAD_URL):
            return False
        return self.status is None or self.status == 429 or self.status >= 500


CONNECT_ERROR = "ConnectError"
"""`GraphError.code` for a connection that could not be made (status None)."""

BAD_URL = "UnsupportedProtocol"
"""`GraphError.code` for a URL that cannot be sent to (httpx.UnsupportedProtocol, status None)."""


WRONG_BASE_URL = ("the base URL is likely wrong: it must end in /v1.0 (e.g. "
                  "https://graph.microsoft.com/v1.0, or http://127.0.0.1:PORT/v1.0 for "
                  "`pim-reconciler emulator serve`); check --graph-url")
"""What a 404 without Graph's JSON error body means: the request never reached Graph's v1.0
(graph-pim-reference.md section 3: every Graph error carries the `{"error": {...}}` envelope)."""


def not_graph_404(error: GraphError, base_url: str) -> GraphError:
    """`error` unless it is a 404 without Graph's error envelope (no `error.code`); then a
    `GraphError(404, None, "BASE_URL answered HTTP 404 without Graph's JSON error body: the
    base URL is likely wrong: it must end in /v1.0 (...); check --graph-url")` with the same
    request-id and Retry-After. Graph's own 404s (with a code, e.g. `ResourceNotFound`) are
    returned as they are."""
    if error.status != 404 or error.code:
        return error
    return GraphError(
        404, None, f"{base_url} answered HTTP 404 without Graph's JSON error body: "
        f"{WRONG_BASE_URL}", request_id=error.request_id, retry_after=error.retry_after)


class ReadIncompleteError(GraphError):
    """A live read could not be completed (deadline hit, item failed). Never a partial state."""


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """`Retry-After` in seconds (Graph sends whole seconds, section 1.6), or None."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def error_from_body(
    status: int | None, body: Any, headers: Mapping[str, str] | None = None
) -> GraphError:
    """Build a `GraphError` from a Graph error envelope (a dict, JSON bytes/str, or anything).

    Parses `error.code`, `error.message`, `error.innerError.request-id`; when the code is
    `UnknownError` and the message is itself JSON, takes its `errorCode` as `inner_code` and its
    `message` as the message (section 3.1).
    """
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body) if body else {}
        except ValueError:
            body = {"error": {"message": body.decode() if isinstance(body, bytes) else body}}
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    code = err.get("code")
    message = str(err.get("message") or f"HTTP {status}")
    inner = err.get("innerError") or err.get("innererror") or {}
    request_id = (inner.get("request-id") if isinstance(inner, dict) else None) or _header(
        headers, "request-id"
    )
    inner_code = None
    if message.lstrip().startswith("{"):
        try:
            embedded = json.loads(message)
        except ValueError:
            embedded = None
        if isinstance(embedded, dict):
            inner_code = embedded.get("errorCode")
            message = str(embedded.get("message") or message)
    return GraphError(
        status,
        code,
        message,
        request_id=request_id,
        inner_code=inner_code,
        retry_after=parse_retry_after(headers),
    )


def error_from_api_error(exc: Exception) -> GraphError:
    """Convert a kiota `APIError` / msgraph `ODataError` raised by the SDK adapter."""
    status = getattr(exc, "response_status_code", None)
    headers = getattr(exc, "response_headers", None)
    main = getattr(exc, "error", None)
    if main is None:
        return GraphError(status, None, str(exc) or f"HTTP {status}",
                          request_id=_header(headers, "request-id"),
                          retry_after=parse_retry_after(headers))
    inner = getattr(main, "inner_error", None)
    envelope = {
        "error": {
            "code": getattr(main, "code", None),
            "message": getattr(main, "message", None),
            "innerError": {"request-id": getattr(inner, "request_id", None)} if inner else {},
        }
    }
    return error_from_body(status, envelope, headers)
