"""A small tenant and desired directory for apply tests: four creates, one update, one removal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

NOW = "2026-12-01T12:00:00Z"
USERS = [f"user-{c}@contoso.example" for c in "abcdefgh"]


def tenant(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "now": NOW,
        "users": [{"userPrincipalName": u, "displayName": u.split("@")[0]} for u in USERS],
        "groups": [{"displayName": "grp-app"}],
        "schedules": [
            {"group": "grp-app", "access": "member", "kind": "eligible",
             "principal": USERS[4], "created": "-P10D", "end": "P20D", "memberType": "direct"},
            {"group": "grp-app", "access": "member", "kind": "eligible",
             "principal": USERS[5], "created": "-P10D", "end": "P20D", "memberType": "direct"},
        ],
    }
    data.update(extra)
    return data


DESIRED = """\
group: grp-app
members:
  eligible:
    - principals: [user-a@contoso.example, user-b@contoso.example,
                   user-c@contoso.example, user-d@contoso.example]
      duration: P90D
    - principal: user-e@contoso.example
      until: 2027-03-01T00:00:00Z
"""


def write(tmp: Path, tenant_data: dict[str, Any], desired: str = DESIRED) -> tuple[Path, Path]:
    directory = tmp / "desired"
    (directory / "groups").mkdir(parents=True, exist_ok=True)
    (directory / "groups" / "app.yaml").write_text(desired, encoding="utf-8")
    tenant_file = tmp / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(tenant_data, sort_keys=False), encoding="utf-8")
    return directory, tenant_file


def live_rows(tenant_file: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(tenant_file.read_text(encoding="utf-8"))["schedules"]


def requests(tenant_file: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(tenant_file.read_text(encoding="utf-8")).get("requests") or []
