"""Fixture loading, save/load round trip, the example tenant, and serving over loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.clock import FixedClock, SystemClock
from reconciler.emulator import ids
from reconciler.emulator.cli import emulator, load_for_serving
from reconciler.emulator.fixture import dump_tenant, load_tenant, save_tenant
from reconciler.emulator.server import RemoteBindRefused, running_server, serve
from reconciler.emulator.tenant import Tenant

from .helpers import NOW, after_duration, body_for, run, sdk_client, small_fixture
from .test_rules import ELIG, post

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenant.yaml"


def test_relative_times_and_derived_ids(tenant: Tenant) -> None:
    alex = tenant.id_of("alex@contoso.example")
    assert alex == ids.derived_id("user", "alex@contoso.example")
    assert tenant.id_of("Alex Doe") == alex
    assert tenant.id_of("00000000-0000-0000-0000-0000000000a1") == tenant.id_of("deploy-pipeline")
    row = next(
        s for s in tenant.schedules.values() if s.principal_id == alex and s.kind == "eligible"
    )
    assert (row.created, row.start, row.end) == (
        NOW - timedelta(days=20),
        NOW - timedelta(days=20),
        NOW + timedelta(days=10),
    )
    again = load_tenant(small_fixture())
    assert set(again.schedules) == set(tenant.schedules)


def test_seven_digit_strings_and_explicit_clock() -> None:
    data = small_fixture()
    data["schedules"] = [
        {
            "group": "grp-app",
            "kind": "active",
            "principal": "sam@contoso.example",
            "created": "2026-11-01T00:00:00.1234567Z",
            "end": datetime(2027, 1, 1, tzinfo=UTC),
        }
    ]
    clock = FixedClock(datetime(2026, 12, 2, tzinfo=UTC))
    tenant = load_tenant(data, clock=clock)
    assert tenant.clock is clock
    (row,) = tenant.schedules.values()
    assert row.created == datetime(2026, 11, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert isinstance(load_tenant({"users": []}).clock, SystemClock)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_load_round_trip(
    tenant: Tenant, clock: FixedClock, tmp_path: Path, suffix: str
) -> None:
    clock.advance(timedelta(minutes=10))
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    assert post(tenant, ELIG, body)[0] == 201
    tenant.add_fault("GET /users", status=429, times=2)
    path = tmp_path / f"state{suffix}"
    save_tenant(tenant, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    loaded = load_tenant(path)
    assert loaded.clock.now() == NOW + timedelta(minutes=10)
    assert dump_tenant(loaded) == dump_tenant(tenant)
    if suffix == ".json":
        assert json.loads(path.read_text())["now"] == "2026-12-01T12:10:00.0000000Z"


def test_example_tenant_loads_with_names_used_by_examples() -> None:
    tenant = load_tenant(EXAMPLE)
    assert tenant.clock.now() == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert 15 <= len(tenant.users) <= 25
    for name in (
        "PIM-Platform-Admins",
        "PIM-App-Owners",
        "PIM-Contractors",
        "bg-01@contoso.example",
        "deploy-pipeline",
        "All-Employees-Dynamic",
        "OnPrem-Domain-Admins",
    ):
        assert tenant.id_of(name)
    kofi = tenant.id_of("kofi.mensah@contoso.example")
    recent = next(s for s in tenant.schedules.values() if s.principal_id == kofi)
    assert recent.created == datetime(2026, 12, 1, 11, 58, tzinfo=UTC)
    activated = [s for s in tenant.schedules.values() if s.assignment_type == "activated"]
    assert len(activated) == 1


def test_serving_uses_offset_clock_from_state_now() -> None:
    tenant = load_for_serving(EXAMPLE, page_size=5)
    assert tenant.page_size == 5
    assert abs(tenant.clock.now() - datetime(2026, 12, 1, 12, tzinfo=UTC)) < timedelta(seconds=5)


def test_loopback_server_with_sdk_over_http(tenant: Tenant) -> None:
    with running_server(tenant) as base:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1.0")

        async def go() -> Any:
            client = sdk_client(tenant, base_url=base)
            return await client.users.by_user_id("sam@contoso.example").get()

        user = run(go())
    assert user.display_name == "Sam Roe"
    assert tenant.request_log[-1].path == "/v1.0/users/sam@contoso.example"


def test_non_loopback_bind_is_refused(tenant: Tenant, tmp_path: Path) -> None:
    with pytest.raises(RemoteBindRefused):
        serve(tenant, host="0.0.0.0")
    with pytest.raises(RemoteBindRefused), running_server(tenant, host="10.1.2.3"):
        pass
    result = CliRunner().invoke(emulator, ["serve", "--state", str(EXAMPLE), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output
