"""Writes in `$batch` (reconciler/graph/batch_writer.py) against the emulator, through the
real SDK: envelope shapes, identity ordering, and convergence under faults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reconciler.desired.model import Access, Kind
from reconciler.graph.batch import MAX_BATCH, _Gate
from reconciler.graph.batch_writer import WriteBudget, waves
from reconciler.plan.changes import Action, GraphAction

from .helpers import FakeSleeper
from .test_against_emulator import base_fixture, change, emulated, pim_rows

pytestmark = pytest.mark.anyio


def _fixture(n: int) -> dict[str, Any]:
    users = [{"userPrincipalName": f"u{i:02d}@contoso.example", "displayName": f"U{i}"}
             for i in range(n)]
    fixture = base_fixture()
    fixture["users"] += users
    return fixture


def _creates(backend: Any, n: int) -> list[Any]:
    t = backend.tenant
    return [change(backend, principal_id=t.id_of(f"u{i:02d}@contoso.example"),
                   principal=f"u{i:02d}@contoso.example") for i in range(n)]


def _envelopes(tenant: Any) -> list[list[Any]]:
    """The sub-requests of each `$batch` envelope, in the order the emulator answered them
    (an envelope logs its items, then itself)."""
    out: list[list[Any]] = []
    current: list[Any] = []
    for entry in tenant.request_log:
        if entry.batch_item:
            current.append(entry)
        elif entry.path.endswith("/$batch"):
            out.append(current)
            current = []
    return out


async def test_writes_share_envelopes_of_at_most_twenty_and_are_all_verified(
        tmp_path: Path) -> None:
    async with emulated(tmp_path, _fixture(45)) as backend:
        results = await backend.submit_many(_creates(backend, 45))
        tenant = backend.tenant
        envelopes = _envelopes(tenant)
        assert tenant.accepted_writes() == 45
    assert [(r.outcome, r.verified, r.attempts) for r in results] == [("applied", True, 1)] * 45
    assert all(r.status == "Provisioned" and r.request_id for r in results)
    posts = [[e for e in env if e.method == "POST"] for env in envelopes]
    assert sorted(len(p) for p in posts if p) == [5, 20, 20]
    assert all(len(env) <= MAX_BATCH for env in envelopes)
    # 3 envelopes of POSTs and 3 of verifying reads
    assert len(envelopes) == 6


async def test_changes_to_one_identity_never_share_an_envelope_and_keep_their_order(
        tmp_path: Path) -> None:
    fixture = _fixture(3)
    fixture["schedules"] = [{"group": "grp-app", "access": "member", "kind": "eligible",
                             "principal": "u00@contoso.example", "created": "-P20D",
                             "end": "P10D"}]
    async with emulated(tmp_path, fixture) as backend:
        t = backend.tenant
        u0 = t.id_of("u00@contoso.example")
        remove = change(backend, action=Action.REMOVE, graph_action=GraphAction.ADMIN_REMOVE,
                        principal_id=u0, principal="u00@contoso.example", duration=None,
                        end=None)
        recreate = change(backend, principal_id=u0, principal="u00@contoso.example")
        others = _creates(backend, 3)[1:]
        results = await backend.submit_many([remove, *others, recreate])
        envelopes = _envelopes(t)
        rows = pim_rows(t, "u00@contoso.example")
    assert [r.outcome for r in results] == ["applied"] * 4
    writes = [[(e.action, e.path) for e in env if e.method == "POST"] for env in envelopes]
    writes = [w for w in writes if w]
    assert [[a for a, _ in w] for w in writes] == [
        ["adminRemove", "adminAssign", "adminAssign"],  # wave 1: u00's removal and the others
        ["adminAssign"],  # wave 2: u00 again, after its removal was verified
    ]
    assert len(rows) == 1 and rows[0].end is not None


async def test_a_429_storm_inside_the_batch_converges(tmp_path: Path) -> None:
    async with emulated(tmp_path, _fixture(25)) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", status=429,
                                 retry_after=2, times=30)
        results = await backend.submit_many(_creates(backend, 25))
        accepted = backend.tenant.accepted_writes()
    assert [r.outcome for r in results] == ["applied"] * 25
    assert all(r.verified for r in results)
    assert accepted == 25  # a throttled item was never written twice
    assert 2 in backend.sleeper.delays  # Retry-After honoured
    assert max(r.attempts for r in results) >= 2


async def test_503_after_the_write_landed_does_not_duplicate(tmp_path: Path) -> None:
    async with emulated(tmp_path, _fixture(10)) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="committed",
                                 status=503, times=4)
        results = await backend.submit_many(_creates(backend, 10))
        tenant = backend.tenant
        rows = [pim_rows(tenant, f"u{i:02d}@contoso.example") for i in range(10)]
        accepted = tenant.accepted_writes()
    assert [(r.outcome, r.verified) for r in results] == [("applied", True)] * 10
    assert accepted == 10 and all(len(r) == 1 for r in rows)


async def test_replication_lag_is_polled_in_batches(tmp_path: Path) -> None:
    async with emulated(tmp_path, _fixture(5)) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="lag",
                                 seconds=20, times=5)
        results = await backend.submit_many(_creates(backend, 5))
    assert [(r.outcome, r.verified) for r in results] == [("applied", True)] * 5
    assert sum(backend.sleeper.delays) >= 20


async def test_a_refused_item_fails_alone(tmp_path: Path) -> None:
    async with emulated(tmp_path, _fixture(3)) as backend:
        changes = _creates(backend, 3)
        changes[1] = change(backend, principal_id="99999999-9999-9999-9999-999999999999",
                            principal="ghost")
        results = await backend.submit_many(changes)
    assert [r.outcome for r in results] == ["applied", "failed", "applied"]
    assert results[1].error is not None and results[1].error.status == 400


def test_waves_put_an_identity_once_per_wave_in_plan_order() -> None:
    class C:
        def __init__(self, principal: str) -> None:
            self.group_id, self.principal_id = "g", principal
            self.access, self.kind = Access.MEMBER, Kind.ELIGIBLE

    changes = [C("a"), C("b"), C("a"), C("c"), C("a"), C("b")]
    assert waves(changes) == [[0, 1, 3], [2, 5], [4]]  # type: ignore[arg-type]


def test_write_budget_waits_for_the_window_to_make_room() -> None:
    sleeper = FakeSleeper()
    budget = WriteBudget(sleeper.sleep, sleeper.timer, limit=5, window_s=10.0)

    async def go() -> None:
        await budget.take(3)
        await budget.take(2)
        assert sleeper.delays == []  # 5 fit
        await budget.take(3)  # the first 3 must leave the window
    asyncio.run(go())
    assert sleeper.delays == [10.0]
    with pytest.raises(ValueError):
        asyncio.run(budget.take(6))


def test_envelopes_in_flight_halve_on_throttling_and_grow_back() -> None:
    sleeper = FakeSleeper()
    gate = _Gate(8, sleeper.timer)

    async def go() -> list[int]:
        seen = []
        for throttled in (True, True):
            await gate.acquire()
            await gate.release(throttled)
            seen.append(gate.limit)
        sleeper.elapsed += 1.0
        await gate.acquire()
        await gate.release(True)
        seen.append(gate.limit)
        for _ in range(2):  # `limit` calm answers add one
            await gate.acquire()
            await gate.release(False)
        seen.append(gate.limit)
        return seen
    # the second cut within a second is skipped
    assert asyncio.run(go()) == [4, 4, 2, 3]
