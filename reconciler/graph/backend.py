"""`GraphBackend`: the reconciler's only door to a tenant (real Graph or the emulator).

Same code path for every target: msgraph-sdk's adapter and middleware over an httpx transport
(network, loopback, or in-process ASGI), plain-JSON decoding, our own batching and retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import HeadersInspectionHandlerOption

from reconciler.clock import Clock
from reconciler.desired.model import Kind, PrincipalRef
from reconciler.graph.auth import GRAPH_SCOPE, token_claims, token_roles
from reconciler.graph.batch import Batcher, Sleep, SubRequest, Timer
from reconciler.graph.batch_writer import BatchWriter
from reconciler.graph.errors import GraphError
from reconciler.graph.permissions import missing_write_permissions
from reconciler.graph.policy_writer import PolicyWriter, PolicyWriteResult
from reconciler.graph.reader import Reader
from reconciler.graph.resolver import Resolver
from reconciler.graph.transport import GraphHttp
from reconciler.graph.urls import Urls
from reconciler.graph.writer import Writer, WriteResult
from reconciler.live.model import DirectoryObject, LiveGroup, LiveState, Resolution
from reconciler.plan.changes import Change, PolicyChange

__all__ = ["GraphBackend", "Ping", "Probe", "WriteResult", "missing_write_permissions"]

NO_OBJECT = "00000000-0000-0000-0000-000000000000"
"""Stands in for a group id in a permission probe when no declared group resolved."""


@dataclass(frozen=True, slots=True)
class Ping:
    """One cheap GET: `status` the HTTP status (None when no answer came), `server_time` the
    answer's `Date` header as aware UTC (None when absent), `error` the failure (a 4xx/5xx
    still means Graph answered)."""

    status: int | None
    server_time: datetime | None
    error: GraphError | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """One read made to learn whether it is allowed: `items` read (all pages), `error` its
    refusal or failure (None when answered 2xx)."""

    items: int
    error: GraphError | None = None


PROBES = ("eligibility_schedules", "assignment_schedules", "policies", "users", "groups",
          "service_principals", "directory_objects", "eligibility_requests",
          "assignment_requests")
"""The reads `GraphBackend.probe` knows (the `probe` column of
`reconciler.graph.permissions.REQUIRED`)."""


class GraphBackend:
    """Resolve names, read live state, submit changes.

    `http` carries the adapter; `clock` gives "now" for write start times and verification;
    `sleep`/`timer` are injected so tests never really wait (defaults: `asyncio.sleep`,
    `time.monotonic`). `concurrency` bounds `$batch` envelopes in flight (the most: fewer
while Graph throttles, see `reconciler.graph.batch`); `read_deadline_s`
    bounds waiting on throttled reads. `tenant` is the emulator's Tenant (None otherwise);
    `credential` the azure-identity credential (None for anonymous targets).
    """

    def __init__(
        self,
        http: GraphHttp,
        *,
        clock: Clock,
        sleep: Sleep | None = None,
        timer: Timer | None = None,
        concurrency: int = 8,
        read_deadline_s: float = 300.0,
        write_retry_window_s: float = 120.0,
        verify_window_s: float = 90.0,
        tenant: Any = None,
        credential: Any = None,
    ) -> None:
        self._http = http
        self._known: dict[str, DirectoryObject] = {}  # principals resolved so far, by id
        self._group_names: dict[str, str] = {}  # groups resolved so far: id -> display name
        self.clock = clock
        self.tenant = tenant
        self._credential = credential
        sleep = sleep or asyncio.sleep
        timer = timer or time.monotonic
        urls = Urls(http)
        self._urls = urls
        batcher = Batcher(http, sleep=sleep, timer=timer, concurrency=concurrency,
                          deadline_s=read_deadline_s)
        self._batcher = batcher
        self._reader = Reader(batcher, urls)
        self._resolver = Resolver(batcher, urls)
        self._writer = Writer(http, urls, clock=clock, sleep=sleep, timer=timer,
                              retry_window_s=write_retry_window_s,
                              verify_window_s=verify_window_s)
        self._batch_writer = BatchWriter(http, batcher, urls, clock=clock, sleep=sleep,
                                         timer=timer, retry_window_s=write_retry_window_s,
                                         verify_window_s=verify_window_s)
        self._policy_writer = PolicyWriter(http, urls, sleep=sleep, timer=timer,
                                           provision_window_s=write_retry_window_s,
                                           verify_window_s=min(verify_window_s, 30.0))

    @property
    def request_count(self) -> int:
        """HTTP requests sent by this backend so far (each `$batch` envelope counts once)."""
        return self._http.request_count

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def resolve(
        self,
        groups: Sequence[str],
        principals: Sequence[PrincipalRef],
        on_groups: Callable[[Mapping[str, tuple[LiveGroup, ...]]], None] | None = None,
    ) -> Resolution:
        """See `reconciler.graph.resolver.Resolver.resolve`. Raises `ReadIncompleteError`."""
        resolution = await self._resolver.resolve(groups, principals, on_groups)
        for objects in resolution.principals.values():
            for obj in objects:
                self._known[obj.id] = obj
        for matches in resolution.groups.values():
            for live_group in matches:
                self._group_names[live_group.id] = live_group.display_name
        return resolution

    async def read(self, group_ids: Sequence[str], after: Awaitable[object] | None = None
                   ) -> LiveState:
        """See `reconciler.graph.reader.Reader.read`. Principals this backend already
        resolved are named from that answer instead of another `getByIds` lookup, and the
        groups it resolved by their display names. `after` (a resolution still running) is
        awaited once the schedules are read, before principals are named. Raises
        `ReadIncompleteError`."""
        return await self._reader.read(group_ids, known=self._known,
                                       group_names=self._group_names, after=after)

    async def submit(self, change: Change) -> WriteResult:
        """See `reconciler.graph.writer.Writer.submit`. Graph errors land in the result."""
        return await self._writer.submit(change)

    async def submit_many(self, changes: Sequence[Change]) -> list[WriteResult]:
        """See `reconciler.graph.batch_writer.BatchWriter.submit_many`: the changes in
        `$batch` envelopes, one result each, in order. Graph errors land in the results."""
        return await self._batch_writer.submit_many(changes)

    async def update_policy(self, change: PolicyChange) -> PolicyWriteResult:
        """See `reconciler.graph.policy_writer.PolicyWriter.update`; never raises for Graph
        errors."""
        return await self._policy_writer.update(change)

    async def granted_permissions(self) -> frozenset[str] | None:
        """App roles of the access token (`roles` claim), or None when unknown (no
        credential: `--graph-url` with the default `--credential`; or a token that is not a
        JWT). The in-process emulator signs in too (`targets.EmulatorCredential`): its
        token's roles are the tenant file's default application's."""
        if self._credential is None:
            return None
        token = await self._credential.get_token(GRAPH_SCOPE)
        return token_roles(token.token)

    @property
    def credential_name(self) -> tuple[str, str] | None:
        """(`--credential` choice, azure-identity class name) of the credential, or None for
        anonymous targets."""
        if self._credential is None:
            return None
        inner = getattr(self._credential, "inner", self._credential)
        return (str(getattr(self._credential, "kind", "?")), type(inner).__name__)

    async def token_claims(self) -> dict[str, Any] | None:
        """The access token's identifying claims (`reconciler.graph.auth.token_claims`: app
        id, tenant id, roles; never the token), or None without a credential or for a token
        that is no JWT. Raises `AuthenticationFailed` when no token can be had."""
        if self._credential is None:
            return None
        token = await self._credential.get_token(GRAPH_SCOPE)
        return token_claims(token.token)

    async def ping(self) -> Ping:
        """`GET /groups?$top=1&$select=id`, retries off, with the answer's `Date` header read
        (through kiota's headers-inspection option; request headers, the token among them,
        are not captured). Never raises for a Graph or transport failure: it is in `error`."""
        option = HeadersInspectionHandlerOption(inspect_request_headers=False,
                                                inspect_response_headers=True)
        info = RequestInformation(Method.GET)
        info.url = self._urls.absolute(self._urls.first_of("groups"))
        info.headers.try_add("Accept", "application/json")
        info.add_request_options([option])
        error: GraphError | None = None
        try:
            await self._http.send(info)
            status: int | None = 200
        except GraphError as exc:
            error, status = exc, exc.status
        server_time = None
        for value in option.response_headers.get("date"):
            try:
                parsed = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            # `-0000` parses naive (RFC 5322: UTC, zone unknown); any other zone to UTC
            server_time = (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None
                           else parsed.astimezone(UTC))
            break
        return Ping(status, server_time, error)

    async def probe(self, names: Sequence[str], group_id: str | None = None
                    ) -> dict[str, Probe]:
        """Make the reads `names` (from `PROBES`) in one `$batch`, each as the plan or the
        apply would make it (first page only), and report each one's answer: `items` on the
        first page, or the error. A 403 names a missing permission
        (graph-pim-reference.md 3.1). PIM reads use `group_id` (a group of the files; the
        zero GUID when None). `policies` is also the onboarding signal: an empty list for a
        real group means PIM has no policy for it yet. Raises `ValueError` for an unknown
        name."""
        gid = group_id or NO_OBJECT
        urls = {
            "eligibility_schedules": lambda: self._urls.schedules(Kind.ELIGIBLE, gid),
            "assignment_schedules": lambda: self._urls.schedules(Kind.ACTIVE, gid),
            "policies": lambda: self._urls.policy_assignments(gid),
            "users": lambda: self._urls.first_of("users"),
            "groups": lambda: self._urls.first_of("groups"),
            "service_principals": lambda: self._urls.first_of("servicePrincipals"),
            "eligibility_requests": lambda: self._urls.schedule_requests_of(Kind.ELIGIBLE, gid),
            "assignment_requests": lambda: self._urls.schedule_requests_of(Kind.ACTIVE, gid),
        }
        requests = []
        for name in dict.fromkeys(names):
            if name == "directory_objects":
                requests.append(SubRequest(name, "POST", self._urls.get_by_ids(),
                                           {"ids": [NO_OBJECT], "types": ["user"]}))
            elif name in urls:
                requests.append(SubRequest(name, "GET", urls[name]()))
            else:
                raise ValueError(f"unknown probe {name!r}; one of {PROBES}")
        if not requests:
            return {}
        answers = await self._batcher.run(requests)  # first pages only: nextLinks not followed
        out: dict[str, Probe] = {}
        for key, resp in answers.items():
            body = resp.body if isinstance(resp.body, dict) else {}
            value = body.get("value")
            count = len(value) if isinstance(value, list) else int(bool(body))
            out[key] = Probe(count, None) if resp.ok else Probe(0, resp.error())
        return out

    async def policy_counts(self, group_ids: Sequence[str]) -> dict[str, Probe]:
        """Per group id, its role management policy assignments as read for a plan (section
        4.1): `items` 0 means PIM has none for the group yet (not onboarded, or onboarding
        still replicating: reference 3.2, TF-1769)."""
        requests = [SubRequest(f"g{n}", "GET", self._urls.policy_assignments(gid))
                    for n, gid in enumerate(dict.fromkeys(group_ids))]
        if not requests:
            return {}
        listings = await self._batcher.fetch_lists(requests)
        return {gid: Probe(len(listings[f"g{n}"].items), listings[f"g{n}"].error)
                for n, gid in enumerate(dict.fromkeys(group_ids))}

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._credential is not None and hasattr(self._credential, "close"):
            await self._credential.close()
