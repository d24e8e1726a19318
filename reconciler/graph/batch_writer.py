"""Writes in `$batch`: schedule requests for distinct identities share envelopes.

The same retry and verification policy as `reconciler.graph.writer.Writer` (one change at a
time), for many changes at once (graph-pim-reference.md 1.5, 1.6, 3.2, 6.5):

- Changes are sent in *waves*: an identity (group, principal, access, eligibility or
  assignment) appears at most once per wave, so two changes to one identity are never in
  the same envelope and keep the plan's order. A wave's requests go 20 to an envelope.
- Each sub-response is handled on its own: `201` is verified; `201` with status `Failed`
  and `404` (replication) are sent again after a back-off, within the retry window; a 429 /
  5xx item (or an envelope that failed whole) may have landed, so before it is sent again
  its identity is re-read and the request is resent only if the change is not in place;
  `RoleAssignmentExists` after such an uncertain attempt, and `RoleAssignmentDoesNotExist`
  on a removal, are verified rather than failed. Throttled items wait their `Retry-After`.
- Verification reads the identities' schedules, batched the same way, polling (1, 2, 4 …
  s) within the verify window until each change shows.
- Writes never exceed Graph's write budget (`WriteBudget`: 3,000 per 150 s per app and
  tenant, reference 1.6 [seen: DOC-Throttle]); envelopes in flight adapt (`Batcher`).

All waiting goes through the injected `sleep`; time limits are measured with `timer`.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.clock import Clock
from reconciler.graph.batch import Batcher, Sleep, SubRequest, Timer
from reconciler.graph.errors import GraphError, ReadIncompleteError
from reconciler.graph.transport import GraphHttp
from reconciler.graph.urls import Urls
from reconciler.graph.writer import (
    WriteResult,
    identity_url,
    in_place,
    is_remove,
    own_rows,
    request_body,
)
from reconciler.plan.changes import Change

WRITES_PER_WINDOW = 3000
WRITE_WINDOW_S = 150.0
"""Graph's write limit per app and tenant: 3,000 requests per 2.5 minutes (reference 1.6)."""


class WriteBudget:
    """A sliding window of writes sent: `take(n)` waits (injected `sleep`) until `n` more fit
    in `limit` per `window_s` seconds (measured with `timer`). Raises `ValueError` when `n`
    exceeds `limit`."""

    def __init__(self, sleep: Sleep, timer: Timer, limit: int = WRITES_PER_WINDOW,
                 window_s: float = WRITE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._sleep = sleep
        self._timer = timer
        self._sent: collections.deque[float] = collections.deque()
        self.waited_s = 0.0

    async def take(self, n: int) -> None:
        if n > self.limit:
            raise ValueError(f"{n} writes at once exceed the budget of {self.limit}")
        while True:
            now = self._timer()
            while self._sent and self._sent[0] <= now - self.window_s:
                self._sent.popleft()
            if len(self._sent) + n <= self.limit:
                self._sent.extend([now] * n)
                return
            wait = self._sent[len(self._sent) + n - self.limit - 1] + self.window_s - now
            self.waited_s += max(wait, 0.001)
            await self._sleep(max(wait, 0.001))


@dataclass(slots=True)
class _Entry:
    index: int
    change: Change
    attempts: int = 0
    uncertain: bool = False  # an earlier attempt may have landed
    sent_at: datetime | None = None
    last: GraphError | None = None
    request_id: str | None = None
    schedule_id: str | None = None
    status: str | None = None


def _identity(change: Change) -> tuple[str, str, str, str]:
    return (change.group_id, change.principal_id, str(change.access), str(change.kind))


def waves(changes: Sequence[Change]) -> list[list[int]]:
    """Indexes of `changes` in waves: each identity at most once per wave, and a later change
    of an identity in a later wave than its earlier ones (plan order kept)."""
    out: list[list[int]] = []
    last_wave: dict[tuple[str, str, str, str], int] = {}
    for index, change in enumerate(changes):
        wave = last_wave.get(_identity(change), -1) + 1
        if wave == len(out):
            out.append([])
        out[wave].append(index)
        last_wave[_identity(change)] = wave
    return out


class BatchWriter:
    """Sends many schedule requests through `$batch` (see the module doc). Windows in
    seconds: `retry_window_s` bounds resending, `verify_window_s` polling for visibility."""

    def __init__(
        self,
        http: GraphHttp,
        batcher: Batcher,
        urls: Urls,
        *,
        clock: Clock,
        sleep: Sleep,
        timer: Timer,
        budget: WriteBudget | None = None,
        retry_window_s: float = 120.0,
        verify_window_s: float = 90.0,
        max_attempts: int = 6,
    ) -> None:
        self._http = http
        self._batcher = batcher
        self._urls = urls
        self._clock = clock
        self._sleep = sleep
        self._timer = timer
        self.budget = budget or WriteBudget(sleep, timer)
        self._retry_window_s = retry_window_s
        self._verify_window_s = verify_window_s
        self._max_attempts = max_attempts

    async def submit_many(self, changes: Sequence[Change]) -> list[WriteResult]:
        """One `WriteResult` per change, in order; never raises for Graph errors."""
        results: dict[int, WriteResult] = {}
        for wave in waves(changes):
            entries = [_Entry(i, changes[i]) for i in wave]
            for start in range(0, len(entries), self.budget.limit):
                results.update(await self._wave(entries[start:start + self.budget.limit]))
        return [results[i] for i in range(len(changes))]

    async def _wave(self, entries: list[_Entry]) -> dict[int, WriteResult]:
        started = self._timer()
        done: dict[int, WriteResult] = {}
        accepted: list[_Entry] = []
        must_verify: list[_Entry] = []  # refused in a way that may mean "already done"
        todo = entries
        while todo:
            uncertain = [e for e in todo if e.uncertain]
            if uncertain:
                placed = await self._in_place(uncertain)
                for e in uncertain:
                    if placed.get(e.index):
                        done[e.index] = WriteResult("applied", verified=True, attempts=e.attempts)
                todo = [e for e in todo if e.index not in done]
                if not todo:
                    break
            await self.budget.take(len(todo))
            now = self._clock.now()
            requests = []
            for e in todo:
                e.attempts += 1
                e.sent_at = now
                url = self._http.relative(self._urls.schedule_requests(e.change.kind))
                requests.append(SubRequest(f"w{e.index}", "POST", url,
                                           request_body(e.change, now)))
            answers = await self._batcher.send_once(requests)
            retry: list[_Entry] = []
            wait = 0.0
            for e in todo:
                resp = answers[f"w{e.index}"]
                if resp.ok:
                    body = resp.body if isinstance(resp.body, dict) else {}
                    e.status = str(body.get("status") or "")
                    e.request_id = body.get("id")
                    e.schedule_id = body.get("targetScheduleId")
                    if e.status.lower().startswith("failed"):
                        e.last = GraphError(201, None, f"schedule request {e.request_id} "
                                            f"ended with status {e.status}",
                                            request_id=e.request_id)
                        retry.append(e)
                        wait = max(wait, _backoff(e.attempts))
                    else:
                        accepted.append(e)
                    continue
                err = resp.error()
                e.last = err
                if err.transient:
                    e.uncertain = True
                    retry.append(e)
                    wait = max(wait, err.retry_after if err.retry_after is not None
                               else _backoff(e.attempts))
                elif (err.code == "RoleAssignmentDoesNotExist" and is_remove(e.change)) or (
                        err.code == "RoleAssignmentExists" and e.uncertain):
                    must_verify.append(e)
                elif err.status == 404:  # a new group or principal still replicating
                    retry.append(e)
                    wait = max(wait, err.retry_after if err.retry_after is not None
                               else _backoff(e.attempts))
                else:
                    done[e.index] = WriteResult("failed", error=err, attempts=e.attempts)
            todo = []
            over = self._timer() - started + wait > self._retry_window_s
            for e in retry:
                throttled = e.last is not None and e.last.status == 429
                if over or (e.attempts >= self._max_attempts and not throttled):
                    done[e.index] = WriteResult(
                        "failed", request_id=e.request_id, schedule_id=e.schedule_id,
                        status=e.status, error=e.last, attempts=e.attempts)
                else:
                    todo.append(e)
            if todo:
                await self._sleep(wait)
        verified = await self._verify(accepted + must_verify)
        for e in accepted:
            done[e.index] = WriteResult(
                "applied", request_id=e.request_id, schedule_id=e.schedule_id,
                status=e.status, verified=verified.get(e.index, False), attempts=e.attempts)
        for e in must_verify:
            ok = verified.get(e.index, False)
            done[e.index] = WriteResult("applied" if ok else "failed",
                                        error=None if ok else e.last, verified=ok,
                                        attempts=e.attempts)
        return done

    async def _in_place(self, entries: list[_Entry]) -> dict[int, bool]:
        """Index -> whether the change shows in its identity's schedules (absent when the
        read failed: unknown, so the change is not taken as done)."""
        requests = [SubRequest(f"v{e.index}", "GET", identity_url(self._urls, e.change))
                    for e in entries]
        try:
            listings = await self._batcher.fetch_lists(requests)
        except ReadIncompleteError:
            return {}
        now = self._clock.now()
        out: dict[int, bool] = {}
        for e in entries:
            listing = listings[f"v{e.index}"]
            if listing.error is None:
                rows = own_rows(e.change, listing.items)
                out[e.index] = in_place(e.change, rows, e.sent_at or now, now)
        return out

    async def _verify(self, entries: list[_Entry]) -> dict[int, bool]:
        """Poll with back-off (1, 2, 4 … s) until each change shows, within the window."""
        started = self._timer()
        delay = 1.0
        verified: dict[int, bool] = {}
        pending = list(entries)
        while pending:
            placed = await self._in_place(pending)
            for e in pending:
                if placed.get(e.index):
                    verified[e.index] = True
            pending = [e for e in pending if e.index not in verified]
            if not pending or self._timer() - started + delay > self._verify_window_s:
                break
            await self._sleep(delay)
            delay = min(delay * 2, 15.0)
        return verified


def _backoff(attempt: int) -> float:
    return min(2.0 ** attempt, 30.0)
