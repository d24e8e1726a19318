"""Resolving names in the desired files to directory objects, batched through `$batch`.

Groups by display name or object id (with `groupTypes` and `onPremisesSyncEnabled`, so the
planner can refuse dynamic and synced groups: graph-pim-reference.md section 3.1); users by
UPN; `group:` principals by display name or id; service principals by display name, appId or
id; bare ids through `directoryObjects/getByIds` (type from `@odata.type`). Every match is
listed: zero is "not found", several "ambiguous", and the planner makes the problems. A 403
makes a `permission_denied` problem naming the permission (section 5) and leaves the
reference out of the mapping (unknown, not "not found").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

from reconciler.desired.model import PrincipalRef, PrincipalType
from reconciler.graph import decode
from reconciler.graph.batch import Batcher, Listing, SubRequest
from reconciler.graph.errors import GraphError, ReadIncompleteError
from reconciler.graph.reader import PRINCIPAL_TYPES
from reconciler.graph.urls import Urls
from reconciler.live.model import DirectoryObject, LiveGroup, Resolution
from reconciler.problems import Code, Problem, error

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")

_T = TypeVar("_T", LiveGroup, DirectoryObject)

_PERMISSION = {
    "user": "User.Read.All",
    "group": "Group.Read.All",
    "servicePrincipal": "Application.Read.All",
    "id": "Directory.Read.All",
}


def is_object_id(value: str) -> bool:
    """True for a GUID (an Entra object id or appId)."""
    return bool(_GUID.match(value.strip()))


class Resolver:
    def __init__(self, batcher: Batcher, urls: Urls) -> None:
        self._batcher = batcher
        self._urls = urls

    async def resolve(
        self, groups: Sequence[str], principals: Sequence[PrincipalRef]
    ) -> Resolution:
        """Resolve group references and principal references. Raises `ReadIncompleteError`
        when a lookup fails for another reason than 403/404."""
        group_refs = list(dict.fromkeys(groups))
        principal_refs = list(dict.fromkeys(principals))
        requests: list[SubRequest] = []
        plan: dict[str, list[str]] = {}  # ref key -> sub-request keys

        def add(owner: str, method: str, url: str, body: object = None) -> None:
            key = f"r{len(requests)}"
            requests.append(SubRequest(key, method, url, body))
            plan.setdefault(owner, []).append(key)

        for n, ref in enumerate(group_refs):
            url = (self._urls.group_by_id(ref) if is_object_id(ref)
                   else self._urls.groups_by_name(ref))
            add(f"g{n}", "GET", url)
        id_refs: list[tuple[int, PrincipalRef]] = []
        for n, pref in enumerate(principal_refs):
            value = pref.value.strip()
            owner = f"p{n}"
            if pref.type is PrincipalType.USER:
                add(owner, "GET", self._urls.users_by_upn(value))
            elif pref.type is PrincipalType.GROUP:
                add(owner, "GET", self._urls.group_by_id(value) if is_object_id(value)
                    else self._urls.groups_by_name(value))
            elif pref.type is PrincipalType.SERVICE_PRINCIPAL:
                if is_object_id(value):
                    add(owner, "GET", self._urls.service_principal_by_id(value))
                    add(owner, "GET", self._urls.service_principals_by("appId", value))
                else:
                    add(owner, "GET", self._urls.service_principals_by("displayName", value))
            elif is_object_id(value):
                id_refs.append((n, pref))
            else:
                plan[owner] = []  # not an object id: nothing can match (getByIds would 400)
        if id_refs:
            ids = sorted({p.value.strip() for _, p in id_refs})
            key = f"r{len(requests)}"
            requests.append(SubRequest(key, "POST", self._urls.get_by_ids(),
                                       {"ids": ids, "types": PRINCIPAL_TYPES}))
            for n, _ in id_refs:
                plan.setdefault(f"p{n}", []).append(key)

        listings = await self._batcher.fetch_lists(requests) if requests else {}
        problems: dict[str, Problem] = {}

        resolved_groups: dict[str, tuple[LiveGroup, ...]] = {}
        for n, ref in enumerate(group_refs):
            items = _collect(listings, plan[f"g{n}"], "group", ref, problems)
            if items is not None:
                resolved_groups[ref] = _unique(decode.group(i) for i in items)

        resolved: dict[PrincipalRef, tuple[DirectoryObject, ...]] = {}
        for n, pref in enumerate(principal_refs):
            kind = str(pref.type)
            items = _collect(listings, plan[f"p{n}"], kind, pref.value, problems)
            if items is None:
                continue
            default = None if pref.type is PrincipalType.ID else PrincipalType(kind)
            objs = (decode.directory_object(i, default) for i in items)
            found = [o for o in objs if o is not None]
            if pref.type is PrincipalType.ID:
                found = [o for o in found if o.id.lower() == pref.value.strip().lower()]
            resolved[pref] = _unique(found)
        return Resolution(groups=resolved_groups, principals=resolved,
                          problems=tuple(problems.values()))


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    seen: dict[str, _T] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return tuple(seen.values())


def _collect(listings: dict[str, Listing], keys: list[str], kind: str, ref: str,
             problems: dict[str, Problem]) -> list[dict] | None:
    """Items of all sub-requests for one reference; None when a 403 hid the answer."""
    items: list[dict] = []
    for key in keys:
        listing = listings[key]
        err: GraphError | None = listing.error
        if err is None:
            items.extend(listing.items)
        elif err.status == 404:
            continue  # a GET by id that found nothing
        elif err.status == 403:
            permission = _PERMISSION[kind]
            problems.setdefault(kind, error(
                Code.PERMISSION_DENIED,
                f"looking up {kind} {ref!r} (and any other {kind}) was refused "
                f"({err.code or 'Forbidden'}): the application needs {permission} "
                "(or Directory.Read.All)",
                principal=None if kind == "group" else ref,
                group=ref if kind == "group" else None,
            ))
            return None
        else:
            raise ReadIncompleteError(err.status, err.code,
                                      f"looking up {kind} {ref!r} failed: {err.message}",
                                      request_id=err.request_id)
    return items
