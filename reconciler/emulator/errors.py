"""Graph's error envelope (graph-pim-reference.md section 3).

`{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.
"""

from __future__ import annotations

import json
from datetime import datetime

from reconciler.emulator.timefmt import format_plain_time


class GraphError(Exception):
    """An error answer: HTTP `status`, Graph `code` and `message`, optional extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def envelope(
    code: str, message: str, now: datetime, request_id: str, client_request_id: str
) -> dict[str, object]:
    """The JSON body of an error answer."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": format_plain_time(now.replace(microsecond=0)),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def bad_request(message: str) -> GraphError:
    """400 `BadRequest`: malformed query or body (emulator's choice where Graph's is unknown)."""
    return GraphError(400, "BadRequest", message)


def invalid_request(message: str = "The role assignment request is invalid.") -> GraphError:
    """400 `InvalidRoleAssignmentRequest` (reference 3.1, TF-1464)."""
    return GraphError(400, "InvalidRoleAssignmentRequest", message)


def permission_scope_not_granted(scopes: list[str]) -> GraphError:
    """403 `UnknownError`, message = JSON naming the missing scopes (reference 3.1, TF-1386)."""
    inner = {
        "errorCode": "PermissionScopeNotGranted",
        "message": "Authorization failed due to missing permission scope " + ",".join(scopes) + ".",
        "instanceAnnotations": [],
    }
    return GraphError(403, "UnknownError", json.dumps(inner, separators=(",", ":")))


def directory_denied() -> GraphError:
    """403 `Authorization_RequestDenied`, Graph's directory answer to a missing permission."""
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def not_found(what: str) -> GraphError:
    """404 `Request_ResourceNotFound` for a directory object that does not exist."""
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )
