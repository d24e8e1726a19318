"""Directory routes: users, groups and service principals (list with `$filter` / `$select`,
get by id, UPN or appId) and `directoryObjects/getByIds` (at most 1,000 ids).

A missing directory object answers 404 `Request_ResourceNotFound` (reference 3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.emulator import odata, permissions
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import bad_request, not_found
from reconciler.emulator.query import context_url, filter_of, page, string_sets
from reconciler.emulator.query import selected as query_selected
from reconciler.emulator.resources import (
    DIRECTORY_SELECTABLE,
    directory_object_json,
    group_json,
    service_principal_json,
    user_json,
    without_non_default,
)
from reconciler.emulator.tenant import Tenant

_DIRECTORY_FIELDS = {
    "users": {"id", "displayName", "userPrincipalName", "mail"},
    "groups": {"id", "displayName", "mail", "mailNickname", "securityEnabled"},
    "servicePrincipals": {"id", "displayName", "appId"},
}
_DIRECTORY_IN_FIELDS = {
    # `in` on the names the reference lists (1.7), and ids
    "users": frozenset({"id", "userPrincipalName", "mail"}),
    "groups": frozenset({"id", "displayName"}),
    "servicePrincipals": frozenset({"id", "displayName", "appId"}),
}
_DIRECTORY_SCOPES = {
    "users": permissions.USERS,
    "groups": permissions.GROUPS,
    "servicePrincipals": permissions.SERVICE_PRINCIPALS,
}


_DIRECTORY_ATTRS = {
    "users": {
        "id": "id",
        "displayName": "display_name",
        "userPrincipalName": "user_principal_name",
    },
    "groups": {"id": "id", "displayName": "display_name"},
    "servicePrincipals": {"id": "id", "displayName": "display_name", "appId": "app_id"},
}
"""JSON field -> record attribute, where the JSON value is the attribute unchanged."""


def _directory_rows(
    tenant: Tenant, kind: str, tree: odata.Filter | None = None
) -> list[dict[str, Any]]:
    """JSON rows of `kind`, sorted by id. With `tree`, objects that cannot match its string
    `eq` conditions are skipped before their JSON is built (the caller still filters)."""
    if kind == "users":
        objects: list[Any] = list(tenant.users.values())
        to_json: Callable[[Any], dict[str, Any]] = user_json
    elif kind == "groups":
        objects, to_json = list(tenant.groups.values()), group_json
    else:
        objects, to_json = list(tenant.service_principals.values()), service_principal_json
    table = {"users": tenant.users, "groups": tenant.groups}.get(kind, tenant.service_principals)
    for field_name, values in string_sets(tree).items():
        attr = _DIRECTORY_ATTRS[kind].get(field_name)
        if attr is None:
            continue
        lows = {v.lower() for v in values}
        if len(objects) == len(table) and getattr(table, "indexes", lambda _: False)(attr):
            found = {o.id: o for v in values for o in table.with_value(attr, v)}  # type: ignore[attr-defined]
            objects = list(found.values())
        else:
            objects = [o for o in objects if str(getattr(o, attr)).lower() in lows]
    return [to_json(o) for o in sorted(objects, key=lambda o: o.id)]


def _kind_name(kind: str) -> str:
    return {"users": "users", "groups": "groups", "serviceprincipals": "servicePrincipals"}[
        kind.lower()
    ]


def _list_directory(tenant: Tenant, call: Call, kind: str) -> Answer:
    kind = _kind_name(kind)
    permissions.require(call.granted(tenant), _DIRECTORY_SCOPES[kind], directory=True)
    tree = filter_of(call, _DIRECTORY_FIELDS[kind], in_fields=_DIRECTORY_IN_FIELDS[kind])
    selected = query_selected(call, *DIRECTORY_SELECTABLE[kind])
    rows = [
        without_non_default(odata.select(r, selected), selected)
        for r in _directory_rows(tenant, kind, tree)
        if tree is None or odata.matches(tree, r)
    ]
    return page(tenant, call, rows, context_url(call, kind, selected))


def _get_directory(tenant: Tenant, call: Call, kind: str, key: str) -> Answer:
    kind = _kind_name(kind)
    permissions.require(call.granted(tenant), _DIRECTORY_SCOPES[kind], directory=True)
    low = key.lower()
    for row in _directory_rows(tenant, kind):
        if low == str(row["id"]).lower() or low == str(row.get("userPrincipalName", "")).lower():
            selected = query_selected(call, *DIRECTORY_SELECTABLE[kind])
            return Answer(
                200,
                {
                    "@odata.context": context_url(call, f"{kind}/$entity"),
                    **without_non_default(odata.select(row, selected), selected),
                },
            )
    raise not_found(key)


def _get_sp_by_app_id(tenant: Tenant, call: Call, app_id: str) -> Answer:
    permissions.require(call.granted(tenant), permissions.SERVICE_PRINCIPALS, directory=True)
    for sp in tenant.service_principals.values():
        if sp.app_id.lower() == app_id.lower():
            selected = query_selected(call, *DIRECTORY_SELECTABLE["servicePrincipals"])
            return Answer(200, odata.select(service_principal_json(sp), selected))
    raise not_found(app_id)


def _get_by_ids(tenant: Tenant, call: Call) -> Answer:
    permissions.require(call.granted(tenant), permissions.DIRECTORY_OBJECTS, directory=True)
    body = call.body if isinstance(call.body, dict) else {}
    wanted = body.get("ids")
    if not isinstance(wanted, list) or len(wanted) > 1000:
        raise bad_request("'ids' must be a list of at most 1000 ids.")
    types = {str(t).lower() for t in body.get("types") or []}
    rows = []
    for object_id in wanted:
        obj = tenant.directory_object(str(object_id))
        if obj is None:
            continue
        row = directory_object_json(obj)
        if types and str(row["@odata.type"]).rsplit(".", 1)[1].lower() not in types:
            continue
        rows.append(row)
    return Answer(200, {"@odata.context": context_url(call, "directoryObjects"), "value": rows})


ROUTES = [
    ("GET", r"/(users|groups|servicePrincipals)", _list_directory),
    ("GET", r"/(users|groups|servicePrincipals)/([^/()]+)", _get_directory),
    ("GET", r"/servicePrincipals\(appId='([^']*)'\)", _get_sp_by_app_id),
    ("POST", r"/directoryObjects/getByIds", _get_by_ids),
]
