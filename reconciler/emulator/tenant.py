"""The in-memory tenant the emulator serves: directory objects, PIM schedules, requests,
policies, injected faults, granted permissions and a request log.

Thread-safe: every read or write of state happens under `Tenant.lock` (the app may run in a
uvicorn thread while a test inspects the tenant).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.clock import Clock, SystemClock
from reconciler.emulator import ids, permissions, variants
from reconciler.emulator.faults import Fault
from reconciler.emulator.identity import IdentityService
from reconciler.emulator.state import (
    Group,
    Policy,
    Schedule,
    ScheduleRequest,
    ServicePrincipal,
    User,
)

DEFAULT_PAGE_SIZE = 100


@dataclass
class LogEntry:
    """One answered request. `latency_ms` is wall time inside the emulator including injected
    latency; `action` / `request_status` are set for schedule-request POSTs; `batch_item`
    marks a sub-request of a `$batch` (the outer `$batch` POST has its own entry)."""

    method: str
    path: str
    status: int
    latency_ms: float = 0.0
    action: str | None = None
    request_status: str | None = None
    batch_item: bool = False
    extra: dict[str, object] = field(default_factory=dict)


class IndexedTable(dict[str, Any]):
    """Records by id (a plain dict to every reader), plus an index by the lower-cased string
    value of each of `fields`, kept up to date on every insert, replace and delete, so lookups
    filtered on those fields need not scan every record. Records never change an indexed
    field in place (nothing in the emulator does; a schedule's identity change is a new
    schedule)."""

    _MISSING = object()

    def __init__(self, fields: tuple[str, ...]) -> None:
        super().__init__()
        self._fields = fields
        self._index: dict[str, dict[str, dict[str, None]]] = {f: {} for f in fields}

    def _add(self, key: str, value: Any) -> None:
        for name in self._fields:
            self._index[name].setdefault(str(getattr(value, name)).lower(), {})[key] = None

    def _drop(self, key: str, value: Any) -> None:
        for name in self._fields:
            bucket = self._index[name].get(str(getattr(value, name)).lower())
            if bucket is not None:
                bucket.pop(key, None)

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            self._drop(key, dict.__getitem__(self, key))
        dict.__setitem__(self, key, value)
        self._add(key, value)

    def __delitem__(self, key: str) -> None:
        value = dict.__getitem__(self, key)
        dict.__delitem__(self, key)
        self._drop(key, value)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        if default is self._MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        self._drop(key, value)
        return key, value

    def clear(self) -> None:
        dict.clear(self)
        self._index = {f: {} for f in self._fields}

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> IndexedTable:  # type: ignore[override,misc]
        self.update(other)
        return self

    def indexes(self, field: str) -> bool:
        """True when `field` (a record attribute) is indexed."""
        return field in self._index

    def with_value(self, field: str, value: str) -> list[Any]:
        """Records whose attribute `field` equals `value`, ignoring case (insertion order of
        the index). Raises `KeyError` for a field that is not indexed."""
        keys = self._index[field].get(value.lower(), {})
        return [dict.__getitem__(self, k) for k in keys]


class Tenant:
    """An emulated Entra tenant. Build empty with `Tenant(clock)`, or from a fixture
    (the tenant file of docs/emulator.md) with `fixture.load_tenant(...)`."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.users: dict[str, User] = IndexedTable(("id", "user_principal_name", "display_name"))
        self.groups: dict[str, Group] = IndexedTable(("id", "display_name"))
        self.service_principals: dict[str, ServicePrincipal] = IndexedTable(
            ("id", "display_name", "app_id")
        )
        self.schedules: dict[str, Schedule] = IndexedTable(("group_id", "principal_id"))
        self.requests: dict[str, ScheduleRequest] = {}
        self.policies: dict[tuple[str, str], Policy] = {}
        self.faults: list[Fault] = []
        self.page_size: int = DEFAULT_PAGE_SIZE
        self.latency_ms: int = 0
        self.granted_permissions: set[str] | None = None
        """Application permissions of anonymous calls (None: all granted); a call with a
        bearer token has its token's roles instead (`identity`)."""
        self.identity = IdentityService(
            self.clock,
            granted=lambda: self.granted_permissions,
            object_id_of=lambda app_id: next(
                (s.id for s in self.service_principals.values() if s.app_id == app_id), None),
            all_permissions=permissions.ALL,
        )
        self.request_log: list[LogEntry] = []
        self._accepted = 0
        self.request_history: int | None = None
        """Keep at most this many schedule requests (fixture `request_history`); older ones
        are purged, as Graph purges request history (reference 1.2: schedules, never
        requests, are the source of truth). None keeps all."""
        self.pinned_variants: dict[str, str] = {}  # the fixture's graph_variants
        self.variants: dict[str, str] = variants.resolve()

    def add_request(self, request: ScheduleRequest) -> None:
        """Record a processed schedule request, purging the oldest beyond `request_history`."""
        self.requests[request.id] = request
        if self.request_history is not None:
            while len(self.requests) > self.request_history:
                del self.requests[next(iter(self.requests))]

    def variant(self, name: str) -> str:
        """The value of the unconfirmed-behaviour switch `name` (`emulator.variants`)."""
        return self.variants[name]

    def pin_variants(self, values: dict[str, object]) -> None:
        """Set switches as a fixture does (they win over the environment). Raises
        `variants.VariantError`."""
        self.pinned_variants.update(variants.validate(values))
        self.variants = variants.resolve(self.pinned_variants)

    # -- lookups --------------------------------------------------------------------------

    def now(self) -> datetime:
        """The shared clock's current time (aware UTC)."""
        return self.clock.now()

    def id_of(self, name: str) -> str:
        """Id of a user (UPN or displayName), group (displayName) or service principal
        (displayName or appId). Raises `KeyError` when nothing or several objects match."""
        with self.lock:
            hits = self.resolve(name)
        if len(hits) != 1:
            raise KeyError(f"{name!r} matches {len(hits)} directory objects")
        return hits[0]

    def resolve(self, name: str) -> list[str]:
        """Ids of every directory object `name` identifies (id, UPN, displayName or appId)."""
        low = name.lower()
        hits: list[str] = []
        for user in self.users.values():
            if low in (
                user.id.lower(),
                user.user_principal_name.lower(),
                user.display_name.lower(),
            ):
                hits.append(user.id)
        for group in self.groups.values():
            if low in (group.id.lower(), group.display_name.lower()):
                hits.append(group.id)
        for sp in self.service_principals.values():
            if low in (sp.id.lower(), sp.display_name.lower(), sp.app_id.lower()):
                hits.append(sp.id)
        return hits

    def directory_object(self, object_id: str) -> User | Group | ServicePrincipal | None:
        """The user, group or service principal with this id, or None."""
        return (
            self.users.get(object_id)
            or self.groups.get(object_id)
            or self.service_principals.get(object_id)
        )

    def policy_for(self, group_id: str, access: str) -> Policy:
        """The policy of (group, access), created with the defaults on first use."""
        key = (group_id, access)
        if key not in self.policies:
            self.policies[key] = Policy(group_id, access, ids.policy_guid(group_id, access))
        return self.policies[key]

    # -- faults, log, counters ------------------------------------------------------------

    def add_fault(
        self,
        match: str,
        status: int | None = None,
        code: str | None = None,
        times: int | None = None,
        retry_after: int | None = None,
        kind: str = "error",
        latency_ms: int = 0,
        seconds: float = 0.0,
        message: str | None = None,
    ) -> Fault:
        """Inject a fault at run time (see `reconciler.emulator.faults` for kinds). Returns it."""
        fault = Fault(
            match=match,
            kind=kind,
            status=status,
            code=code,
            message=message,
            times=times,
            retry_after=retry_after,
            latency_ms=latency_ms,
            seconds=seconds,
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_faults(self, method: str, path: str, kinds: Iterable[str]) -> list[Fault]:
        """Consume and return every fault of `kinds` that fires for this request."""
        wanted = set(kinds)
        fired = []
        with self.lock:
            for fault in self.faults:
                if fault.kind in wanted and fault.applies(method, path):
                    fault.consume()
                    fired.append(fault)
        return fired

    def record_accepted(self) -> None:
        with self.lock:
            self._accepted += 1

    def accepted_writes(self) -> int:
        """Schedule requests the tenant accepted (2xx, not `Failed`) since load."""
        with self.lock:
            return self._accepted

    def log(self, entry: LogEntry) -> None:
        with self.lock:
            self.request_log.append(entry)
