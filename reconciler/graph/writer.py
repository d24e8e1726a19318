"""Writes: one schedule request per change, with our own retry and verification policy.

graph-pim-reference.md: every write is a POST of a request object whose `action` selects
assign / update / extend / renew / remove (section 1.1); `scheduleInfo` carries the lifetime as
`noExpiration`, `afterDuration` with an ISO 8601 duration string (never a `timedelta`, which
the SDK sends as `"90 days, 0:00:00"`: sections 6.3 and 10) or `afterDateTime`; `adminRemove`
goes without `scheduleInfo` (section 2.3). The SDK RetryHandler is off (section 1.6: it
resends POSTs blindly). Instead:

- 429 / 5xx / timeout: wait (Retry-After or back-off), re-read the identity's schedule, and
  send again only if the change is not already in place (section 3.2);
- `RoleAssignmentExists` after a retry: verify the schedule; `RoleAssignmentDoesNotExist` on
  a remove: verify it is absent (section 3.2);
- `201` with `status: Failed` and `404 ResourceNotFound` (a new group or principal not yet
  replicated, sections 3.1 and 6.5): back off and send again, for a bounded time;
- after an accepted write, poll (bounded) until the schedule shows the intended lifetime, or
  is gone for a remove (section 6.5).

All waiting goes through the injected `sleep`; time limits are measured with `timer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from reconciler.clock import Clock
from reconciler.durations import format_instant, parse_duration
from reconciler.graph import decode
from reconciler.graph.batch import Sleep, Timer
from reconciler.graph.errors import GraphError
from reconciler.graph.transport import GraphHttp
from reconciler.graph.urls import Urls
from reconciler.live.model import LiveSchedule
from reconciler.plan.changes import Change, GraphAction

END_TOLERANCE = timedelta(minutes=1)
DURATION_SLACK = timedelta(minutes=2)
_FAILED_PREFIX = "failed"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of one change.

    `outcome` is "applied" (Graph accepted the request, or the change was found already in
    place) or "failed". `request_id` is the schedule request's id, `schedule_id` its
    `targetScheduleId`, `status` the request's Graph status (e.g. `Provisioned`, `Revoked`).
    `verified` is True once a re-read showed the intended lifetime (or absence for a remove);
    an accepted write that did not show up within the polling window is "applied" with
    `verified` False. `attempts` counts POSTs sent.
    """

    outcome: Literal["applied", "failed"]
    request_id: str | None = None
    schedule_id: str | None = None
    status: str | None = None
    error: GraphError | None = None
    verified: bool = False
    attempts: int = 0


def request_body(change: Change, now: datetime) -> dict[str, Any]:
    """The JSON body of the schedule request for `change` (section 2.7 shape).

    `startDateTime` is `change.start` or `now`. Raises `ValueError` when a non-remove change
    has no lifetime or its duration is not ISO 8601.
    """
    body: dict[str, Any] = {
        "accessId": str(change.access),
        "principalId": change.principal_id,
        "groupId": change.group_id,
        "action": str(change.graph_action),
    }
    if change.graph_action is not GraphAction.ADMIN_REMOVE:
        if change.permanent:
            expiration: dict[str, Any] = {"type": "noExpiration"}
        elif change.duration:
            if not isinstance(change.duration, str):
                raise ValueError("duration must be an ISO 8601 string such as P180D")
            parse_duration(change.duration)  # refuses anything Graph would not take
            expiration = {"type": "afterDuration", "duration": change.duration}
        elif change.end is not None:
            expiration = {"type": "afterDateTime", "endDateTime": format_instant(change.end)}
        else:
            raise ValueError(f"{change.graph_action} needs a lifetime (permanent, duration, end)")
        body["scheduleInfo"] = {
            "startDateTime": format_instant(change.start or now),
            "expiration": expiration,
        }
    if change.justification:
        body["justification"] = change.justification
    if change.ticket_number or change.ticket_system:
        ticket = {"ticketNumber": change.ticket_number, "ticketSystem": change.ticket_system}
        body["ticketInfo"] = {k: v for k, v in ticket.items() if v is not None}
    return body


class Writer:
    """Sends schedule requests. `retry_window_s` bounds resending (transient errors, Failed,
    ResourceNotFound); `verify_window_s` bounds polling for visibility (seconds)."""

    def __init__(
        self,
        http: GraphHttp,
        urls: Urls,
        *,
        clock: Clock,
        sleep: Sleep,
        timer: Timer,
        retry_window_s: float = 120.0,
        verify_window_s: float = 90.0,
        max_attempts: int = 6,
    ) -> None:
        self._http = http
        self._urls = urls
        self._clock = clock
        self._sleep = sleep
        self._timer = timer
        self._retry_window_s = retry_window_s
        self._verify_window_s = verify_window_s
        self._max_attempts = max_attempts

    async def submit(self, change: Change) -> WriteResult:
        """Send one change; never raises for Graph errors (they land in `WriteResult.error`)."""
        started = self._timer()
        attempts = 0
        uncertain = False  # an earlier attempt may have landed
        sent_at = self._clock.now()
        last: GraphError | None = None
        while True:
            throttled = last is not None and last.status == 429
            if attempts >= self._max_attempts and not throttled:
                # throttling is bounded by the retry window (honouring Retry-After), not by
                # the attempt count: a 429 storm waits, it does not fail the change
                return WriteResult("failed", error=last, attempts=attempts)
            attempts += 1
            sent_at = self._clock.now()
            try:
                answer = await self._post(change, sent_at)
            except GraphError as err:
                last = err
                if err.transient:
                    uncertain = True
                    if not await self._wait(started, err.retry_after, attempts):
                        return WriteResult("failed", error=err, attempts=attempts)
                    if await self._in_place(change, sent_at):
                        return WriteResult("applied", error=None, verified=True,
                                           attempts=attempts)
                    continue
                if err.code == "RoleAssignmentDoesNotExist" and is_remove(change):
                    ok = await self._verify(change, sent_at)
                    return WriteResult("applied" if ok else "failed", error=None if ok else err,
                                       verified=ok, attempts=attempts)
                if err.code == "RoleAssignmentExists" and uncertain:
                    ok = await self._verify(change, sent_at)
                    return WriteResult("applied" if ok else "failed", error=None if ok else err,
                                       verified=ok, attempts=attempts)
                # 404 ResourceNotFound: a new group or principal still replicating
                if err.status == 404 and await self._wait(started, err.retry_after, attempts):
                    continue
                return WriteResult("failed", error=err, attempts=attempts)

            answer = answer if isinstance(answer, dict) else {}
            status = str(answer.get("status") or "")
            request_id = answer.get("id")
            schedule_id = answer.get("targetScheduleId")
            if status.lower().startswith(_FAILED_PREFIX):
                last = GraphError(201, None, f"schedule request {request_id} ended with status "
                                  f"{status}", request_id=request_id)
                if await self._wait(started, None, attempts):
                    continue
                return WriteResult("failed", request_id=request_id, schedule_id=schedule_id,
                                   status=status, error=last, attempts=attempts)
            verified = await self._verify(change, sent_at)
            return WriteResult("applied", request_id=request_id, schedule_id=schedule_id,
                               status=status, error=None, verified=verified, attempts=attempts)

    async def _post(self, change: Change, now: datetime) -> Any:
        info = RequestInformation(Method.POST)
        info.url = self._urls.schedule_requests(change.kind)
        info.headers.try_add("Content-Type", "application/json")
        info.headers.try_add("Accept", "application/json")
        info.content = json.dumps(request_body(change, now)).encode()
        return await self._http.send(info)

    async def _wait(self, started: float, retry_after: float | None, attempt: int) -> bool:
        """Sleep before another attempt; False when that would pass the retry window."""
        delay = retry_after if retry_after is not None else min(2.0 ** attempt, 30.0)
        if self._timer() - started + delay > self._retry_window_s:
            return False
        await self._sleep(delay)
        return True

    async def _rows(self, change: Change) -> list[LiveSchedule] | None:
        """The identity's direct admin rows for (group, principal, access, kind), or None
        when the read failed."""
        url = self._urls.absolute(identity_url(self._urls, change))
        items: list[Any] = []
        try:
            while url:
                body = await self._http.get_json(url) or {}
                items.extend(body.get("value") or [])
                url = body.get("@odata.nextLink")
        except GraphError:
            return None
        return own_rows(change, items)

    def _matches(self, change: Change, rows: list[LiveSchedule], sent_at: datetime) -> bool:
        return in_place(change, rows, sent_at, self._clock.now())

    async def _in_place(self, change: Change, sent_at: datetime) -> bool:
        rows = await self._rows(change)
        return rows is not None and self._matches(change, rows, sent_at)

    async def _verify(self, change: Change, sent_at: datetime) -> bool:
        """Poll with back-off (1, 2, 4 ... s) until the change shows, within the window."""
        started = self._timer()
        delay = 1.0
        while True:
            if await self._in_place(change, sent_at):
                return True
            if self._timer() - started + delay > self._verify_window_s:
                return False
            await self._sleep(delay)
            delay = min(delay * 2, 15.0)


def is_remove(change: Change) -> bool:
    """True for an `adminRemove`."""
    return change.graph_action is GraphAction.ADMIN_REMOVE


def identity_url(urls: Urls, change: Change) -> str:
    """The `$batch`-relative read of the change's identity: its schedules of `change.kind`
    filtered by group and principal (section 1.2)."""
    return urls.schedules(change.kind, change.group_id, change.principal_id)


def own_rows(change: Change, items: list[Any]) -> list[LiveSchedule]:
    """The direct admin rows of the change's identity (access, principal) among the JSON
    `items` of its schedule list."""
    rows: list[LiveSchedule] = []
    for item in items:
        row = decode.schedule(item, change.kind) if isinstance(item, dict) else None
        if row is not None and row.access == change.access and \
                row.principal_id == change.principal_id and row.managed:
            rows.append(row)
    return rows


def in_place(change: Change, rows: list[LiveSchedule], sent_at: datetime, now: datetime) -> bool:
    """Whether `rows` (the identity's own rows) show `change` done: none left for a remove;
    otherwise a row with the intended lifetime (permanent; a duration's end between
    `sent_at` + length and `now` + length, with `DURATION_SLACK`; an end within
    `END_TOLERANCE`)."""
    if is_remove(change):
        return not rows
    for row in rows:
        if change.permanent:
            if row.end is None:
                return True
        elif change.duration:
            length = parse_duration(change.duration)
            low, high = sent_at + length - DURATION_SLACK, now + length + DURATION_SLACK
            if row.end is not None and low <= row.end <= high:
                return True
        elif change.end is not None and row.end is not None and \
                abs(row.end - change.end) <= END_TOLERANCE:
            return True
    return False
