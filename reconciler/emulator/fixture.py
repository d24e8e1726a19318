"""The tenant file of docs/emulator.md: read, load into a `Tenant`, dump and save.

`load_tenant(source, clock)` builds a tenant from a file or mapping, `dump_tenant(tenant)` gives
its fixture form, `save_tenant(tenant, path)` writes that atomically. The dependency is one-way:
this module knows `Tenant`; `tenant.py` knows nothing of fixtures.

docs/emulator.md documents every key (users with `assignedPlans`, groups, service principals,
policies, schedules, requests, faults, `granted_permissions`, `latency_ms`, `graph_variants`,
`request_history`, and sign-in: `tenant_id`, `domains`, `applications`, see
`emulator.identity`) and the reasons a file does not load: every malformed value is one
`ValueError` naming its entry (`users[3]: missing userPrincipalName`). Values served as written
(`assignedPlans`, `scheduleInfo`, `ticketInfo`, policy rule fields) have YAML timestamps
written as ISO 8601 UTC strings (`emulator.values.served`). A dumped fixture uses absolute UTC
times and explicit ids, so loading it gives the same state.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from reconciler.clock import Clock, FixedClock, SystemClock
from reconciler.emulator import ids, values
from reconciler.emulator.faults import Fault
from reconciler.emulator.identity import DEFAULT_TENANT_ID, dump_applications, load_applications
from reconciler.emulator.state import (
    Group,
    Schedule,
    ScheduleRequest,
    ServicePrincipal,
    User,
)
from reconciler.emulator.tenant import Tenant
from reconciler.emulator.timefmt import format_time, parse_time, resolve_fixture_time
from reconciler.emulator.variants import VariantError

_KNOWN_KEYS = {
    "now",
    "page_size",
    "users",
    "groups",
    "servicePrincipals",
    "policies",
    "schedules",
    "requests",
    "faults",
    "granted_permissions",
    "latency_ms",
    "graph_variants",
    "request_history",
    "tenant_id",
    "domains",
    "applications",
}


def read_fixture(source: str | Path) -> dict:
    """Parse a YAML or JSON fixture file into a mapping. Raises `ValueError` if it is not
    valid YAML (one line: `not valid YAML: <problem> at line L, column C`) or not a
    mapping (`FILE: a tenant fixture must be a mapping`), and `OSError` if it cannot be read."""
    text = Path(source).read_text(encoding="utf-8")
    data = None
    if str(source).lower().endswith(".json"):
        try:  # JSON is YAML; the json module just reads large state files much faster
            data = json.loads(text)
        except ValueError:
            data = None
    if data is None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML: {_yaml_problem(exc)}") from exc
        except ValueError as exc:  # PyYAML builds `2026-13-01` with datetime(), which refuses
            raise ValueError(f"an impossible YAML date or timestamp: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a tenant fixture must be a mapping")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error (several lines, with a caret drawing) as one line."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return " ".join(str(exc).split())
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def load_tenant(source: str | Path | dict, clock: Clock | None = None) -> Tenant:
    """Load a tenant fixture: a YAML/JSON file path or an already-parsed mapping.

    Without `clock`: `FixedClock(now)` when the fixture has `now`, else `SystemClock`.
    Relative times (`-P20D`) resolve against the fixture's `now` (else the clock) at load time.
    Raises `ValueError` on a malformed fixture and `OSError` on an unreadable file.
    """
    data = read_fixture(source) if not isinstance(source, dict) else source
    if clock is None:
        clock = FixedClock(parse_time(data["now"])) if data.get("now") else SystemClock()
    tenant = Tenant(clock)
    _load_into(tenant, data)
    return tenant


def dump_tenant(tenant: Tenant) -> dict[str, Any]:
    """The state in fixture form: absolute UTC times, explicit ids, `now` = clock now."""
    with tenant.lock:
        return _dump(tenant)


def save_tenant(tenant: Tenant, path: str | Path) -> None:
    """Write the state atomically (temp file in the same directory, fsync, `os.replace`).

    JSON when `path` ends in `.json`, YAML otherwise.
    """
    target = Path(path)
    data = dump_tenant(tenant)
    if target.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    write_atomically(target, text)


def write_atomically(target: Path, text: str) -> None:
    """Write `text` (UTF-8) to `target` so a reader sees the old file or the whole new one:
    a temp file in the same directory, fsync, `os.replace`; the temp file is removed on error."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _access(value: object) -> str:
    text = str(value or "member").lower()
    if text not in ("member", "owner"):
        raise ValueError(f"access must be member or owner, not {value!r}")
    return text


def _kind(value: object) -> str:
    text = str(value or "").lower()
    if text not in ("eligible", "active"):
        raise ValueError(f"kind must be eligible or active, not {value!r}")
    return text


def _name_index(tenant: Tenant) -> dict[str, list[str]]:
    """Lower-cased id / UPN / displayName / appId -> ids, in `Tenant.resolve` order (users,
    groups, service principals): the same answers as `resolve`, without a scan per lookup."""
    index: dict[str, list[str]] = {}
    keyed: list[tuple[str, tuple[str, ...]]] = [
        (u.id, (u.id, u.user_principal_name, u.display_name)) for u in tenant.users.values()
    ]
    keyed += [(g.id, (g.id, g.display_name)) for g in tenant.groups.values()]
    keyed += [(s.id, (s.id, s.display_name, s.app_id)) for s in tenant.service_principals.values()]
    for object_id, keys in keyed:
        for key in dict.fromkeys(k.lower() for k in keys):
            index.setdefault(key, []).append(object_id)
    return index


def _one(
    tenant: Tenant,
    name: object,
    what: str,
    pool: dict[str, Any] | None = None,
    index: dict[str, list[str]] | None = None,
) -> str:
    hits = (
        list(index.get(str(name).lower(), ())) if index is not None else tenant.resolve(str(name))
    )
    if pool is not None:
        hits = [h for h in hits if h in pool]
    if len(hits) != 1:
        raise ValueError(f"{what} {name!r} matches {len(hits)} objects in the fixture")
    return hits[0]


def _integer(data: dict[str, Any], key: str, default: int | None) -> int | None:
    value = data.get(key)
    if value is None:
        return default
    try:
        if isinstance(value, bool):
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be an integer, not {value!r}") from None


def _load_into(tenant: Tenant, data: dict[str, Any]) -> None:
    """Fill `tenant` from fixture `data`. Raises `ValueError` on malformed content, naming the
    entry (`users[3]: missing userPrincipalName`; positions count from 0)."""
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown fixture keys: {sorted(unknown)}")
    # Relative times (`-P20D`) are offsets from the fixture's own `now` when it has one, so
    # a clock injected for the run (`--now`) moves time on without moving the seeded state.
    now = parse_time(data["now"]) if data.get("now") else tenant.clock.now()

    def when(value: object) -> datetime | None:
        return resolve_fixture_time(value, now)

    if data.get("graph_variants"):
        try:
            tenant.pin_variants(dict(values.mapping(data["graph_variants"], "graph_variants")))
        except VariantError as exc:
            raise ValueError(f"graph_variants: {exc}") from exc
    tenant.request_history = _integer(data, "request_history", None)
    tenant.page_size = _integer(data, "page_size", None) or tenant.page_size
    tenant.latency_ms = _integer(data, "latency_ms", 0) or 0
    if data.get("granted_permissions") is not None:
        tenant.granted_permissions = set(
            values.string_list(data["granted_permissions"], "granted_permissions"))
    _load_identity(tenant, data, now)
    for where, raw in values.mapping_list(data.get("users"), "users"):
        upn = values.required_text(raw, "userPrincipalName", where)
        uid = str(raw.get("id") or ids.derived_id("user", upn.lower()))
        plans = raw.get("assignedPlans")
        if plans is not None:
            plans_where = f"{where}.assignedPlans"
            values.mapping_list(plans, plans_where)
            plans = values.served(plans, plans_where)
        tenant.users[uid] = User(
            uid, upn,
            values.text(raw.get("displayName"), f"{where}.displayName") or upn.split("@")[0],
            values.text(raw.get("mail"), f"{where}.mail"),
            plans,
        )
    for where, raw in values.mapping_list(data.get("groups"), "groups"):
        name = values.required_text(raw, "displayName", where)
        gid = str(raw.get("id") or ids.derived_id("group", name))
        tenant.groups[gid] = Group(
            gid,
            name,
            values.string_list(raw.get("groupTypes"), f"{where}.groupTypes"),
            raw.get("onPremisesSyncEnabled"),
            bool(raw.get("securityEnabled", True)),
            bool(raw.get("mailEnabled", False)),
            raw.get("isAssignableToRole"),
            values.text(raw.get("description"), f"{where}.description"),
        )
    for where, raw in values.mapping_list(data.get("servicePrincipals"), "servicePrincipals"):
        name = values.required_text(raw, "displayName", where)
        sid = str(raw.get("id") or ids.derived_id("servicePrincipal", name))
        app_id = str(raw.get("appId") or ids.derived_id("appId", name))
        tenant.service_principals[sid] = ServicePrincipal(sid, name, app_id)
    names = _name_index(tenant)  # directory objects are all loaded from here on
    for where, raw in values.mapping_list(data.get("policies"), "policies"):
        group = values.required(raw, "group", where)
        gid = _one(tenant, group, "policy group", tenant.groups, names)
        policy = tenant.policy_for(gid, _access(raw.get("access")))
        rules = values.mapping(raw.get("rules"), f"{where}.rules")
        for rule_id, fields in rules.items():
            fields = values.served_mapping(fields, f"{where}.rules.{rule_id}")
            policy.overrides.setdefault(str(rule_id), {}).update(fields or {})
    for index, (where, raw) in enumerate(values.mapping_list(data.get("schedules"), "schedules")):
        _load_schedule(tenant, raw, index, where, when, names)
    for where, raw in values.mapping_list(data.get("requests"), "requests"):
        _load_request(tenant, raw, where, when, now, names)
    for where, raw in values.mapping_list(data.get("faults"), "faults"):
        values.required_text(raw, "match", where)
        tenant.faults.append(Fault.from_fixture(dict(raw)))


def _load_identity(tenant: Tenant, data: dict[str, Any], now: datetime) -> None:
    """`tenant_id`, `domains` and `applications` (see `emulator.identity`)."""
    service = tenant.identity
    if data.get("tenant_id"):
        service.tenant_id = str(data["tenant_id"])
    service.domains = values.string_list(data.get("domains"), "domains")
    load_applications(service, data.get("applications"), now)


def _dump_identity(tenant: Tenant) -> dict[str, Any]:
    service = tenant.identity
    out: dict[str, Any] = {}
    if service.tenant_id != DEFAULT_TENANT_ID:
        out["tenant_id"] = service.tenant_id
    if service.domains:
        out["domains"] = list(service.domains)
    if service.applications:
        out["applications"] = dump_applications(service)
    return out


def _schedule_id(given: object, gid: str, access: str, guid: str, where: str) -> str:
    """The schedule id: `given`, which must be Graph's `{groupId}_{member|owner}_{guid}` of
    this group and access (graph-pim-reference.md 2.6; instance ids are derived from it),
    else `{gid}_{access}_{guid}`. Raises `ValueError` naming `where` and the shape."""
    if given is None or given == "":
        return ids.schedule_id(gid, access, guid)
    sid = str(given)
    prefix = f"{gid}_{access}_"
    rest = sid[len(prefix):] if sid.lower().startswith(prefix.lower()) else None
    try:
        if rest is None:
            raise ValueError
        uuid.UUID(rest)
    except ValueError:
        raise ValueError(
            f"{where}: id {sid!r} must have Graph's shape {{groupId}}_{{member|owner}}_{{guid}}"
            f" for its group and access, e.g. {ids.schedule_id(gid, access, guid)!r}"
        ) from None
    return sid


def _target(
    tenant: Tenant, raw: dict[str, Any], where: str, what: str, names: dict[str, list[str]]
) -> tuple[str, str, str]:
    """(group id, principal id, kind) of a schedule or request entry (`what`), its required
    `group`, `principal` and `kind`. Raises `ValueError` naming `where` for a missing key,
    `{what} group|principal NAME matches N objects` for a name that is not one object."""
    group = values.required(raw, "group", where)
    principal = values.required(raw, "principal", where)
    kind = _kind(values.required(raw, "kind", where))
    gid = _one(tenant, group, f"{what} group", tenant.groups, names)
    return gid, _one(tenant, principal, f"{what} principal", index=names), kind


def _load_schedule(
    tenant: Tenant,
    raw: dict[str, Any],
    index: int,
    where: str,
    when: Any,
    names: dict[str, list[str]],
) -> None:
    gid, pid, kind = _target(tenant, raw, where, "schedule", names)
    access = _access(raw.get("access"))
    created = when(raw.get("created", raw.get("start"))) or when("PT0S")
    start = when(raw["start"]) if "start" in raw else created
    guid = ids.derived_id("schedule", f"{gid}:{access}:{kind}:{pid}:{index}")
    sid = _schedule_id(raw.get("id"), gid, access, guid, where)
    assignment_type = str(raw.get("assignmentType") or "assigned").lower()
    if kind == "eligible" and assignment_type != "assigned":
        raise ValueError(f"schedule {sid}: assignmentType applies to active schedules only")
    tenant.schedules[sid] = Schedule(
        id=sid,
        kind=kind,
        group_id=gid,
        access=access,
        principal_id=pid,
        created=created,
        start=start,
        end=when(raw.get("end")),
        modified=when(raw.get("modified")),
        member_type=str(raw.get("memberType") or "direct").lower(),
        assignment_type=assignment_type,
        status=values.text(raw.get("status"), f"{where}.status") or "Provisioned",
        created_using=values.text(raw.get("createdUsing"), f"{where}.createdUsing")
        or sid.rsplit("_", 1)[1],
        visible_from=when(raw.get("visibleFrom")),
    )


def _load_request(
    tenant: Tenant,
    raw: dict[str, Any],
    where: str,
    when: Any,
    now: datetime,
    names: dict[str, list[str]],
) -> None:
    gid, pid, kind = _target(tenant, raw, where, "request", names)
    rid = str(raw.get("id") or ids.new_guid())
    tenant.requests[rid] = ScheduleRequest(
        id=rid,
        kind=kind,
        action=values.text(raw.get("action"), f"{where}.action") or "adminAssign",
        status=values.text(raw.get("status"), f"{where}.status") or "Provisioned",
        group_id=gid,
        access=_access(raw.get("access")),
        principal_id=pid,
        created=when(raw.get("created")) or now,
        completed=when(raw.get("completed")),
        schedule_info=values.served_mapping(raw.get("scheduleInfo"), f"{where}.scheduleInfo"),
        justification=values.text(raw.get("justification"), f"{where}.justification"),
        ticket_info=values.served_mapping(raw.get("ticketInfo"), f"{where}.ticketInfo"),
        target_schedule_id=values.text(raw.get("targetScheduleId"),
                                       f"{where}.targetScheduleId"),
    )


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _dump(tenant: Tenant) -> dict[str, Any]:
    """The fixture form of `tenant` (call under its lock)."""
    out: dict[str, Any] = {"now": format_time(tenant.clock.now()), "page_size": tenant.page_size}
    if tenant.latency_ms:
        out["latency_ms"] = tenant.latency_ms
    if tenant.granted_permissions is not None:
        out["granted_permissions"] = sorted(tenant.granted_permissions)
    out.update(_dump_identity(tenant))
    if tenant.pinned_variants:
        out["graph_variants"] = dict(tenant.pinned_variants)
    if tenant.request_history is not None:
        out["request_history"] = tenant.request_history
    out["users"] = [
        {"id": u.id, "userPrincipalName": u.user_principal_name, "displayName": u.display_name}
        | ({"mail": u.mail} if u.mail else {})
        | ({"assignedPlans": u.assigned_plans} if u.assigned_plans is not None else {})
        for u in tenant.users.values()
    ]
    out["groups"] = [
        {
            "id": g.id,
            "displayName": g.display_name,
            "groupTypes": list(g.group_types),
            "onPremisesSyncEnabled": g.on_premises_sync_enabled,
            "securityEnabled": g.security_enabled,
            "mailEnabled": g.mail_enabled,
            "isAssignableToRole": g.is_assignable_to_role,
            "description": g.description,
        }
        for g in tenant.groups.values()
    ]
    out["servicePrincipals"] = [
        {"id": s.id, "displayName": s.display_name, "appId": s.app_id}
        for s in tenant.service_principals.values()
    ]
    out["policies"] = [
        {"group": p.group_id, "access": p.access, "rules": p.overrides}
        for p in tenant.policies.values()
        if p.overrides
    ]
    out["schedules"] = [
        {
            "id": s.id,
            "group": s.group_id,
            "access": s.access,
            "kind": s.kind,
            "principal": s.principal_id,
            "created": _t(s.created),
            "start": _t(s.start),
            "end": _t(s.end),
            "modified": _t(s.modified),
            "assignmentType": s.assignment_type,
            "memberType": s.member_type,
            "status": s.status,
            "createdUsing": s.created_using,
        }
        | ({"visibleFrom": _t(s.visible_from)} if s.visible_from else {})
        for s in tenant.schedules.values()
    ]
    out["requests"] = [
        {
            "id": r.id,
            "kind": r.kind,
            "group": r.group_id,
            "access": r.access,
            "principal": r.principal_id,
            "action": r.action,
            "status": r.status,
            "created": _t(r.created),
            "completed": _t(r.completed),
            "scheduleInfo": r.schedule_info,
            "justification": r.justification,
            "ticketInfo": r.ticket_info,
            "targetScheduleId": r.target_schedule_id,
        }
        for r in tenant.requests.values()
    ]
    out["faults"] = [f.to_fixture() for f in tenant.faults if f.times is None or f.times > 0]
    return out
