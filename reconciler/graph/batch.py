"""JSON batching: `POST /$batch`, at most 20 sub-requests each, adaptive bounded concurrency.

graph-pim-reference.md section 1.5: the envelope answers 200 even when items fail; each item
carries its own `status`, `headers` and `body`, and a throttled item is a 429 with its own
`Retry-After`. Throttled (429) and server-error (5xx) items are sent again in a later batch,
after the longest `Retry-After` seen (or an exponential back-off), until a total deadline; past
it the read is incomplete (`ReadIncompleteError`), never partial. The batch JSON is built here
rather than with msgraph-core's `BatchRequestContent`, whose list setter refuses exactly 20
items and whose constructor fails on a list (sections 1.5 and 10).

`fetch_lists` adds paging: every `@odata.nextLink` becomes a sub-request of a later batch
(section 1.4). `send_once` sends writes: each sub-request once, answers as they come (a write
is never resent blindly: the caller decides, section 3.2).

Envelopes in flight adapt (AIMD): at most `concurrency`; halved (down to one) when an envelope
or one of its items is throttled, at most once a second; one more after `limit` envelopes
answered without throttling.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.graph.errors import (
    GraphError,
    ReadIncompleteError,
    error_from_body,
    parse_retry_after,
)
from reconciler.graph.transport import GraphHttp

MAX_BATCH = 20
RETRYABLE = frozenset({429, 500, 502, 503, 504})

Sleep = Callable[[float], Awaitable[None]]
Timer = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SubRequest:
    """One `$batch` item. `url` is relative to the version root (`/groups?$filter=...`)."""

    key: str
    method: str
    url: str
    body: Any = None


@dataclass(frozen=True, slots=True)
class SubResponse:
    """One answered item: HTTP `status`, `headers` and the decoded JSON `body`."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> GraphError:
        return error_from_body(self.status, self.body, self.headers)


@dataclass(slots=True)
class Listing:
    """All pages of one list (or the single object of a GET by id, as a one-item list).

    `error` is the first non-2xx answer (after retries); `items` is then incomplete.
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    error: GraphError | None = None
    pages: int = 0


def _decode_body(body: Any, headers: Mapping[str, str]) -> Any:
    if isinstance(body, str):
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "json" not in ctype.lower():
            try:
                return json.loads(base64.b64decode(body, validate=True))
            except (ValueError, TypeError):
                pass
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


class _Gate:
    """An AIMD concurrency limit shared by every call of one `Batcher`."""

    def __init__(self, maximum: int, timer: Timer) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.active = 0
        self._timer = timer
        self._calm = 0
        self._last_cut = float("-inf")
        self._cond: asyncio.Condition | None = None

    async def acquire(self) -> None:
        if self._cond is None:
            self._cond = asyncio.Condition()
        async with self._cond:
            await self._cond.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def release(self, throttled: bool) -> None:
        assert self._cond is not None
        async with self._cond:
            self.active -= 1
            if throttled:
                self._calm = 0
                if self._timer() - self._last_cut >= 1.0:
                    self.limit = max(1, self.limit // 2)
                    self._last_cut = self._timer()
            else:
                self._calm += 1
                if self._calm >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self._calm = 0
            self._cond.notify_all()


class Batcher:
    """Sends sub-requests in `$batch` envelopes of at most 20, `concurrency` envelopes at once.

    `sleep` and `timer` are injected (tests pass fakes); `deadline_s` bounds the total time
    spent waiting for throttled items (seconds, measured with `timer`).
    """

    def __init__(
        self,
        http: GraphHttp,
        *,
        sleep: Sleep,
        timer: Timer,
        concurrency: int = 4,
        deadline_s: float = 300.0,
        max_rounds: int = 30,
    ) -> None:
        self._http = http
        self._sleep = sleep
        self._timer = timer
        self._gate = _Gate(concurrency, timer)
        self._deadline_s = deadline_s
        self._max_rounds = max_rounds

    async def _send_envelope(self, chunk: Sequence[SubRequest]) -> dict[str, SubResponse]:
        items = []
        for n, req in enumerate(chunk, start=1):
            item: dict[str, Any] = {"id": str(n), "method": req.method, "url": req.url}
            if req.body is not None:
                item["body"] = req.body
                item["headers"] = {"Content-Type": "application/json"}
            items.append(item)
        answer = await self._http.post_json("/$batch", {"requests": items})
        out: dict[str, SubResponse] = {}
        for resp in (answer or {}).get("responses", []):
            n = int(resp.get("id", 0))
            if 1 <= n <= len(chunk):
                headers = {str(k): str(v) for k, v in (resp.get("headers") or {}).items()}
                out[chunk[n - 1].key] = SubResponse(
                    int(resp.get("status", 0)), headers, _decode_body(resp.get("body"), headers)
                )
        return out

    @property
    def limit(self) -> int:
        """Envelopes allowed in flight now (the adaptive limit, at most `concurrency`)."""
        return self._gate.limit

    async def _guarded(self, chunk: Sequence[SubRequest]) -> dict[str, SubResponse] | GraphError:
        """One envelope through the adaptive gate; an envelope-level failure is returned."""
        await self._gate.acquire()
        outcome: dict[str, SubResponse] | GraphError | None = None
        try:
            try:
                outcome = await self._send_envelope(chunk)
            except GraphError as exc:
                outcome = exc
            return outcome
        finally:
            throttled = (isinstance(outcome, GraphError) and outcome.status == 429) or (
                isinstance(outcome, dict) and any(r.status == 429 for r in outcome.values()))
            await self._gate.release(throttled)

    async def send_once(self, requests: Sequence[SubRequest]) -> dict[str, SubResponse]:
        """Send every sub-request exactly once, 20 to an envelope (keys must be unique).

        Returns an answer per key: the item's own, or for an envelope that failed as a
        whole the envelope's status, headers (`Retry-After`) and error body on each of its
        items (a transport failure as 503, a refused connection as 0); an item the envelope
        left out answers 503. Never retries, never raises for Graph errors."""
        keys = [r.key for r in requests]
        if len(set(keys)) != len(keys):
            raise ValueError("sub-request keys must be unique")
        chunks = [requests[i:i + MAX_BATCH] for i in range(0, len(requests), MAX_BATCH)]
        outcomes = await asyncio.gather(*(self._guarded(c) for c in chunks))
        out: dict[str, SubResponse] = {}
        for chunk, outcome in zip(chunks, outcomes, strict=True):
            for req in chunk:
                if isinstance(outcome, GraphError):
                    headers = ({"Retry-After": str(outcome.retry_after)}
                               if outcome.retry_after is not None else {})
                    body = {"error": {"code": outcome.code, "message": outcome.message}}
                    status = outcome.status or (503 if outcome.transient else 0)
                    out[req.key] = SubResponse(status, headers, body)
                else:
                    missing = SubResponse(503, {}, {"error": {
                        "code": "NoAnswer", "message": "the $batch answer left this item out"}})
                    out[req.key] = outcome.get(req.key) or missing
        return out

    async def run(self, requests: Sequence[SubRequest]) -> dict[str, SubResponse]:
        """Answer every sub-request (keys must be unique). Non-retryable failures (4xx) are
        returned as answers; raises `ReadIncompleteError` when throttling or server errors
        outlast the deadline, or the envelope itself fails with a non-transient error."""
        keys = [r.key for r in requests]
        if len(set(keys)) != len(keys):
            raise ValueError("sub-request keys must be unique")
        results: dict[str, SubResponse] = {}
        pending = list(requests)
        started = self._timer()
        rounds = 0
        guarded = self._guarded

        while pending:
            chunks = [pending[i:i + MAX_BATCH] for i in range(0, len(pending), MAX_BATCH)]
            outcomes = await asyncio.gather(*(guarded(c) for c in chunks))
            retry: list[SubRequest] = []
            wait = 0.0
            last: GraphError | None = None
            for chunk, outcome in zip(chunks, outcomes, strict=True):
                if isinstance(outcome, GraphError):
                    if not outcome.transient:
                        raise ReadIncompleteError(
                            outcome.status, outcome.code,
                            f"$batch request failed: {outcome.message}",
                            request_id=outcome.request_id, inner_code=outcome.inner_code,
                        )
                    retry.extend(chunk)
                    wait = max(wait, outcome.retry_after or 0.0)
                    last = outcome
                    continue
                for req in chunk:
                    resp = outcome.get(req.key)
                    if resp is None or resp.status in RETRYABLE:
                        retry.append(req)
                        if resp is not None:
                            wait = max(wait, parse_retry_after(resp.headers) or 0.0)
                            last = resp.error()
                    else:
                        results[req.key] = resp
            if not retry:
                break
            rounds += 1
            if not wait:
                wait = min(2.0 ** rounds, 30.0)
            elapsed = self._timer() - started
            if rounds > self._max_rounds or elapsed + wait > self._deadline_s:
                status = last.status if last else None
                code = last.code if last else None
                raise ReadIncompleteError(
                    status, code,
                    f"{len(retry)} read(s) still throttled or failing after {rounds} "
                    f"round(s) and {elapsed:.0f}s (deadline {self._deadline_s:.0f}s)",
                    request_id=last.request_id if last else None,
                )
            await self._sleep(wait)
            pending = retry
        return results

    async def fetch_lists(self, requests: Sequence[SubRequest]) -> dict[str, Listing]:
        """Fetch every list to its last page, following `@odata.nextLink` in later batches.

        A body without `value` (a GET by id) counts as a one-item list. Returns one `Listing`
        per request key.
        """
        listings = {r.key: Listing() for r in requests}
        pending = list(requests)
        while pending:
            answers = await self.run(pending)
            follow: list[SubRequest] = []
            for req in pending:
                resp = answers[req.key]
                listing = listings[_base_key(req.key)]
                if not resp.ok:
                    listing.error = listing.error or resp.error()
                    continue
                listing.pages += 1
                body = resp.body if isinstance(resp.body, dict) else {}
                value = body.get("value")
                if isinstance(value, list):
                    listing.items.extend(v for v in value if isinstance(v, dict))
                elif body:
                    listing.items.append(body)
                link = body.get("@odata.nextLink")
                if link:
                    base = _base_key(req.key)
                    follow.append(SubRequest(f"{base}#{listing.pages}", "GET",
                                             self._http.relative(link)))
            pending = follow
        return listings


def _base_key(key: str) -> str:
    return key.split("#", 1)[0]
