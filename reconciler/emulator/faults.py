"""Fault injection (docs/emulator.md `faults`; graph-pim-reference.md 3.1, 3.2, 6.5).

A fault matches `"METHOD path-glob"` (method `*` for any; the glob is matched, ignoring case,
against the path below `/v1.0`, e.g. `*/eligibilityScheduleRequests` or `/users*`; the query
string is not part of the match) and fires for the first `times` matching requests (`None`:
every one). Kinds:

- `error` (default): answer `status` with Graph `code` (and `Retry-After: retry_after` when
  given) without touching state; e.g. 429 `TooManyRequests`, 404 `ResourceNotFound`.
- `committed`: apply the write, then answer `status` (default 503) as if the connection
  broke after the commit (reference 3.2).
- `failed`: answer `201` with `status: "Failed"`, applying nothing (reference 3.1, 6.5).
- `latency`: add `latency_ms` to the answer time.
- `lag`: a schedule created by the matching request stays invisible to GET and list for
  `seconds` of clock time (reference 6.5).
- `ignored`: a policy rule `PATCH` answers 204 and changes nothing (reference 4.5,
  TFMSGRAPH-75: 204 is not proof).
- `unprovisioned`: a policy-assignment list answers an empty `value`, as for a group just
  onboarded to PIM (reference 4.5, TF-1769).
- `unauthorized`: shorthand for an `error` 403 with the message `Attempted to perform an
  unauthorized operation.`, the other authorization refusal seen on schedule reads (reference
  3.1, DOCS-9056); its code was not recorded, the emulator uses `UnauthorizedAccessException`
  unless `code` is given.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass

KINDS = (
    "error",
    "committed",
    "failed",
    "latency",
    "lag",
    "ignored",
    "unprovisioned",
    "unauthorized",
)
UNAUTHORIZED_MESSAGE = "Attempted to perform an unauthorized operation."

_DEFAULT_CODES = {
    400: "BadRequest",
    403: "Authorization_RequestDenied",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass
class Fault:
    """One injected fault; `times` counts down as it fires (None = unlimited)."""

    match: str
    kind: str = "error"
    status: int | None = None
    code: str | None = None
    message: str | None = None
    times: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "unauthorized":
            self.kind, self.status = "error", 403
            self.code = self.code or "UnauthorizedAccessException"
            self.message = self.message or UNAUTHORIZED_MESSAGE
        _, _, glob = self.match.strip().partition(" ")
        if not glob:
            raise ValueError(f"fault match {self.match!r} must be 'METHOD path-glob'")
        if self.kind == "error" and self.status is None:
            raise ValueError(f"fault {self.match!r} of kind error needs a status")
        if self.kind == "committed" and self.status is None:
            self.status = 503

    @property
    def method(self) -> str:
        return self.match.strip().split(" ", 1)[0].upper()

    @property
    def glob(self) -> str:
        return self.match.strip().split(" ", 1)[1].strip()

    @property
    def error_code(self) -> str:
        return self.code or _DEFAULT_CODES.get(self.status or 0, "UnknownError")

    def applies(self, method: str, path: str) -> bool:
        """True when the fault has firings left and matches this request."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method not in ("*", method.upper()):
            return False
        glob = self.glob.lower()
        p = path.lower()
        return fnmatch.fnmatchcase(p, glob) or fnmatch.fnmatchcase("/v1.0" + p, glob)

    def consume(self) -> None:
        if self.times is not None:
            self.times -= 1

    def to_fixture(self) -> dict[str, object]:
        """The fixture form (fields at their default are left out)."""
        return {
            k: v
            for k, v in asdict(self).items()
            if k in ("match", "kind") or v not in (None, 0, 0.0)
        }

    @classmethod
    def from_fixture(cls, data: dict[str, object]) -> Fault:
        """Build from a fixture mapping. Raises `ValueError` on unknown keys or bad values."""
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}")
        return cls(**data)  # type: ignore[arg-type]
