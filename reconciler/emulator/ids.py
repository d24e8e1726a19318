"""Identifiers: deterministic ids for fixture objects, and Graph's PIM id formats.

Formats from graph-pim-reference.md 2.6: schedules `{groupId}_{member|owner}_{guid}`,
policies `Group_{groupId}_{guid}`, policy assignments `Group_{groupId}_{guid}_{member|owner}`.
"""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1d3c2a-8a4e-5b7c-9d0e-1f2a3b4c5d6e")
"""Fixed namespace: fixture ids left out are uuid5(NAMESPACE, f"{kind}:{name}")."""


def derived_id(kind: str, name: str) -> str:
    """The deterministic id of a fixture object of `kind` (user, group, ...) called `name`."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def new_guid() -> str:
    """A fresh random GUID (request ids)."""
    return str(uuid.uuid4())


def schedule_id(group_id: str, access: str, guid: str) -> str:
    """`{groupId}_{accessId}_{guid}` (reference 2.6)."""
    return f"{group_id}_{access}_{guid}"


def instance_id(schedule: str) -> str:
    """An instance id derived from its schedule id; same shape, different GUID (reference 2.5)."""
    group_id, access, _ = schedule.split("_", 2)
    return f"{group_id}_{access}_{uuid.uuid5(NAMESPACE, 'instance:' + schedule)}"


def policy_guid(group_id: str, access: str) -> str:
    """The GUID part of the policy of (group, access)."""
    return str(uuid.uuid5(NAMESPACE, f"policy:{group_id}:{access}"))
