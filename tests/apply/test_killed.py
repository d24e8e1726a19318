"""An apply killed part-way (SIGKILL after k of n writes) converges on the next run, with no
duplicate and no unintended removal. The emulator runs over loopback HTTP in this process;
apply runs as a real subprocess (`python -m reconciler`) through `--graph-url`.

Writes share `$batch` envelopes, so the n writes land nearly at once; the first five answer
`201 Failed` (a fault) and wait a back-off to be sent again: the kill lands in that wait,
with n - 5 written and nothing reported yet."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.server import running_server
from reconciler.emulator.tenant import Tenant

NOW = "2026-12-01T12:00:00Z"
N = 16
FAILED = 5


def _tenant() -> Tenant:
    users = [{"userPrincipalName": f"u{i:02d}@contoso.example", "displayName": f"U{i}"}
             for i in range(N + 1)]
    keep = {"group": "grp-app", "access": "member", "kind": "eligible",
            "principal": f"u{N:02d}@contoso.example", "created": "-P10D", "end": "P20D"}
    failed = {"match": "POST */eligibilityScheduleRequests", "kind": "failed", "times": FAILED}
    return load_tenant({"now": NOW, "users": users, "groups": [{"displayName": "grp-app"}],
                        "schedules": [keep], "faults": [failed]})


def _desired(tmp: Path) -> Path:
    names = ", ".join(f"u{i:02d}@contoso.example" for i in range(N + 1))
    directory = tmp / "desired"
    (directory / "groups").mkdir(parents=True)
    (directory / "groups" / "app.yaml").write_text(
        f"group: grp-app\nmembers:\n  eligible:\n    - principals: [{names}]\n"
        "      duration: P30D\n", encoding="utf-8")
    return directory


def _apply(url: str, directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--now", NOW, "apply", str(directory),
         "--graph-url", url, "--yes", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_apply_converges_on_rerun(tmp_path: Path) -> None:
    tenant = _tenant()
    directory = _desired(tmp_path)
    with running_server(tenant, latency_ms=150) as url:
        proc = _apply(url, directory)
        deadline = time.monotonic() + 60
        while tenant.accepted_writes() < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=10)
        killed_after = tenant.accepted_writes()
        assert killed_after == N - FAILED, "the kill did not land part-way"

        rerun = _apply(url, directory)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, out.decode() + err.decode()

        check = subprocess.run(
            [sys.executable, "-m", "reconciler", "--now", NOW, "plan", str(directory),
             "--graph-url", url, "--format", "json"], capture_output=True, timeout=120)
        assert check.returncode == 0, check.stdout.decode()

    with tenant.lock:
        rows = list(tenant.schedules.values())
        actions = Counter(r.action for r in tenant.requests.values())
        landed = Counter(r.action for r in tenant.requests.values() if r.status != "Failed")
    identities = Counter((r.group_id, r.access, r.kind, r.principal_id) for r in rows)
    assert len(rows) == N + 1 and set(identities.values()) == {1}
    assert actions["adminRemove"] == 0
    assert actions["adminAssign"] == N + FAILED  # the five Failed requests are on record
    assert landed["adminAssign"] == N  # and each identity was assigned once
