"""`GraphBackend`: the reconciler's only door to a tenant (real Graph or the emulator).

Same code path for every target: msgraph-sdk's adapter and middleware over an httpx transport
(network, loopback, or in-process ASGI), plain-JSON decoding, our own batching and retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from reconciler.clock import Clock
from reconciler.desired.model import PrincipalRef
from reconciler.graph.auth import GRAPH_SCOPE, token_roles
from reconciler.graph.batch import Batcher, Sleep, Timer
from reconciler.graph.batch_writer import BatchWriter
from reconciler.graph.permissions import missing_write_permissions
from reconciler.graph.policy_writer import PolicyWriter, PolicyWriteResult
from reconciler.graph.reader import Reader
from reconciler.graph.resolver import Resolver
from reconciler.graph.transport import GraphHttp
from reconciler.graph.urls import Urls
from reconciler.graph.writer import Writer, WriteResult
from reconciler.live.model import DirectoryObject, LiveGroup, LiveState, Resolution
from reconciler.plan.changes import Change, PolicyChange

__all__ = ["GraphBackend", "WriteResult", "missing_write_permissions"]


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
        batcher = Batcher(http, sleep=sleep, timer=timer, concurrency=concurrency,
                          deadline_s=read_deadline_s)
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
        credential, e.g. the emulator or `--graph-url`, or a token that is not a JWT)."""
        if self._credential is None:
            return None
        token = await self._credential.get_token(GRAPH_SCOPE)
        return token_roles(token.token)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._credential is not None and hasattr(self._credential, "close"):
            await self._credential.close()
