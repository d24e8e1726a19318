"""The in-process emulator target (`--emulator FILE`) signs in like a tenant: one token
request per run, kept out of the Graph request count, the token's roles as granted
permissions, renewed when the (pinned) clock passes its hour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from reconciler.config import load_desired
from reconciler.emulator import permissions
from reconciler.pipeline import read_state
from reconciler.targets import Target, open_backend

from .conftest import EXAMPLE_TENANT, ROOT
from .helpers import READ_ROLES, WRITER_APP, applications

pytestmark = pytest.mark.anyio
EXAMPLES = ROOT / "examples" / "assignments"


def _file(tmp_path: Path, with_apps: bool) -> Path:
    data = yaml.safe_load(EXAMPLE_TENANT.read_text(encoding="utf-8"))
    if with_apps:
        data["applications"] = applications("s1", "s2")
    path = tmp_path / ("apps.yaml" if with_apps else "plain.yaml")
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def _read(path: Path) -> tuple[int, int, int, frozenset[str] | None]:
    """(Graph requests sent, Graph requests the emulator logged, token requests, roles)."""
    desired, _problems = load_desired(str(EXAMPLES))
    assert desired is not None
    async with open_backend(Target(kind="emulator", emulator_file=str(path))) as backend:
        await read_state(desired, backend)
        roles = await backend.granted_permissions()
        tenant = backend.tenant
        sent = backend.request_count
    logged = len([e for e in tenant.request_log if not e.batch_item])
    return sent, logged, len(tenant.identity.token_log), roles


async def test_one_token_request_per_run_outside_the_graph_count(tmp_path: Path) -> None:
    signed = await _read(_file(tmp_path, with_apps=True))
    plain = await _read(_file(tmp_path, with_apps=False))
    # the same Graph round trips with or without registered apps, the emulator agreeing
    assert signed[0] == signed[1] == plain[0] == plain[1]
    assert signed[2] == plain[2] == 1
    assert signed[3] == frozenset(READ_ROLES)  # the file's first application
    assert plain[3] == frozenset(permissions.ALL)  # synthetic app: nothing restricted


async def test_token_is_renewed_when_the_pinned_clock_passes_its_hour(tmp_path: Path) -> None:
    async with open_backend(Target(kind="emulator",
                                   emulator_file=str(_file(tmp_path, True)))) as backend:
        assert await backend.granted_permissions() == frozenset(READ_ROLES)
        backend.clock.advance(timedelta(minutes=56))  # within 5 minutes of the expiry
        resolution = await backend.resolve(["PIM-Security-Readers"], [])
        log = backend.tenant.identity.token_log
    assert [(e.client_id, e.error_code) for e in log] == [(WRITER_APP, None)] * 2
    assert len(resolution.groups["PIM-Security-Readers"]) == 1
