"""Resolving names in the desired files to directory objects, batched through `$batch`.

Groups by display name or object id (with `groupTypes` and `onPremisesSyncEnabled`, so the
planner can refuse dynamic and synced groups: graph-pim-reference.md section 3.1); users by
UPN; `group:` principals by display name or id; service principals by display name, appId or
id, names 15 to an `in (…)` clause (section 1.7); bare ids through `directoryObjects/getByIds`
(type from `@odata.type`). Every match is
listed: zero is "not found", several "ambiguous", and the planner makes the problems. A 403
makes a `permission_denied` problem naming the permission (section 5) and leaves the
reference out of the mapping (unknown, not "not found").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from reconciler.desired.model import PrincipalRef, PrincipalType
from reconciler.graph import decode
from reconciler.graph.batch import MAX_BATCH, Batcher, Listing, SubRequest
from reconciler.graph.errors import GraphError, ReadIncompleteError
from reconciler.graph.reader import GET_BY_IDS_MAX, PRINCIPAL_TYPES
from reconciler.graph.urls import MAX_IN_VALUES, Urls
from reconciler.live.model import DirectoryObject, LiveGroup, Resolution
from reconciler.problems import Code, Problem, error

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")

_T = TypeVar("_T", LiveGroup, DirectoryObject)
_V = TypeVar("_V")

_PERMISSION = {
    "user": "User.Read.All",
    "group": "Group.Read.All",
    "servicePrincipal": "Application.Read.All",
    "id": "Directory.Read.All",
}


def is_object_id(value: str) -> bool:
    """True for a GUID (an Entra object id or appId)."""
    return bool(_GUID.match(value.strip()))


Match = Callable[[dict], bool]
"""Which items of a sub-request's answer belong to one reference."""


def _by(field: str, value: str) -> Match:
    low = value.strip().lower()
    return lambda item: str(item.get(field) or "").lower() == low


def _any(item: dict) -> bool:
    return True


def _chunks(values: Sequence[_V]) -> list[list[_V]]:
    return [list(values[i:i + MAX_IN_VALUES]) for i in range(0, len(values), MAX_IN_VALUES)]


class Resolver:
    def __init__(self, batcher: Batcher, urls: Urls) -> None:
        self._batcher = batcher
        self._urls = urls

    async def resolve(
        self,
        groups: Sequence[str],
        principals: Sequence[PrincipalRef],
        on_groups: Callable[[Mapping[str, tuple[LiveGroup, ...]]], None] | None = None,
    ) -> Resolution:
        """Resolve group references (display names or ids) and principal references.

        Names go `MAX_IN_VALUES` (15) to an `in (…)` clause (graph-pim-reference.md 1.7): users
        by `userPrincipalName`, groups and `group:` principals by `displayName` (shared
        clauses), service principals by `displayName`, or by `appId` and id for a GUID; the
        answers are sorted back to each name by the filtered property, compared without
        regard to case as Graph does, so a name with two hits stays ambiguous and one with
        none not found. Group ids are read one by one, bare principal ids 1,000 to a
        `getByIds`. The lookups the groups need go first, beside the others: as soon as they
        are answered, `on_groups` gets the groups (so reads can start while principals are
        still being resolved). Raises `ReadIncompleteError` when a lookup fails for another
        reason than 403/404."""
        group_refs = list(dict.fromkeys(groups))
        principal_refs = list(dict.fromkeys(principals))
        requests: list[SubRequest] = []
        plan: dict[str, list[tuple[str, Match]]] = {}  # ref key -> (sub-request key, match)
        # (kind, field) -> lowered name -> (first spelling, ref keys)
        clauses: dict[tuple[str, str], dict[str, tuple[str, list[str]]]] = {}

        def add(method: str, url: str, body: object = None) -> str:
            key = f"r{len(requests)}"
            requests.append(SubRequest(key, method, url, body))
            return key

        def by_name(kind: str, field: str, value: str, owner: str) -> None:
            names = clauses.setdefault((kind, field), {})
            names.setdefault(value.strip().lower(), (value.strip(), []))[1].append(owner)
            plan.setdefault(owner, [])

        for n, ref in enumerate(group_refs):
            if is_object_id(ref):
                plan[f"g{n}"] = [(add("GET", self._urls.group_by_id(ref)), _any)]
            else:
                by_name("group", "displayName", ref, f"g{n}")
        id_refs: list[tuple[int, PrincipalRef]] = []
        for n, pref in enumerate(principal_refs):
            value = pref.value.strip()
            owner = f"p{n}"
            if pref.type is PrincipalType.USER:
                by_name("user", "userPrincipalName", value, owner)
            elif pref.type is PrincipalType.GROUP:
                if is_object_id(value):
                    plan[owner] = [(add("GET", self._urls.group_by_id(value)), _any)]
                else:
                    by_name("group", "displayName", value, owner)
            elif pref.type is PrincipalType.SERVICE_PRINCIPAL:
                if is_object_id(value):
                    plan[owner] = [(add("GET", self._urls.service_principal_by_id(value)), _any)]
                    by_name("servicePrincipal", "appId", value, owner)
                else:
                    by_name("servicePrincipal", "displayName", value, owner)
            elif is_object_id(value):
                id_refs.append((n, pref))
            else:
                plan[owner] = []  # not an object id: nothing can match (getByIds would 400)

        for (kind, field), names in clauses.items():
            # one value per name, as first spelled (Graph compares without regard to case)
            for chunk in _chunks(sorted(names.values(), key=lambda entry: entry[0].lower())):
                values = [spelling for spelling, _ in chunk]
                if kind == "user":
                    url = self._urls.users_in(values)
                elif kind == "group":
                    url = self._urls.groups_in(values)
                else:
                    url = self._urls.service_principals_in(field, values)
                key = add("GET", url)
                for spelling, owners in chunk:
                    for owner in owners:
                        plan[owner].append((key, _by(field, spelling)))
        bare_ids = sorted({p.value.strip() for _, p in id_refs})
        for i in range(0, len(bare_ids), GET_BY_IDS_MAX):
            chunk = bare_ids[i:i + GET_BY_IDS_MAX]
            key = add("POST", self._urls.get_by_ids(), {"ids": chunk, "types": PRINCIPAL_TYPES})
            wanted = {c.lower() for c in chunk}
            for n, pref in id_refs:
                if pref.value.strip().lower() in wanted:
                    plan.setdefault(f"p{n}", []).append((key, _by("id", pref.value)))

        problems: dict[str, Problem] = {}
        resolved_groups: dict[str, tuple[LiveGroup, ...]] = {}
        group_keys = {key for n in range(len(group_refs)) for key, _ in plan[f"g{n}"]}

        # the groups' lookups, topped up with others to fill their last envelope (so the
        # split costs no round trip), go first; the rest beside them
        first = [r for r in requests if r.key in group_keys]
        others = [r for r in requests if r.key not in group_keys]
        room = -len(first) % MAX_BATCH if first else 0
        first, rest = first + others[:room], others[room:]

        async def groups_first() -> dict[str, Listing]:
            found = await self._batcher.fetch_lists(first) if first else {}
            for n, ref in enumerate(group_refs):
                items = _collect(found, plan[f"g{n}"], "group", ref, problems)
                if items is not None:
                    resolved_groups[ref] = _unique(decode.group(i) for i in items)
            if on_groups is not None:
                on_groups(resolved_groups)
            return found

        async def the_rest() -> dict[str, Listing]:
            return await self._batcher.fetch_lists(rest) if rest else {}

        answered = await asyncio.gather(groups_first(), the_rest(), return_exceptions=True)
        for outcome in answered:
            if isinstance(outcome, BaseException):
                raise outcome
        listings = {**answered[0], **answered[1]}  # type: ignore[dict-item]

        resolved: dict[PrincipalRef, tuple[DirectoryObject, ...]] = {}
        for n, pref in enumerate(principal_refs):
            kind = str(pref.type)
            items = _collect(listings, plan[f"p{n}"], kind, pref.value, problems)
            if items is None:
                continue
            default = None if pref.type is PrincipalType.ID else PrincipalType(kind)
            objs = (decode.directory_object(i, default) for i in items)
            resolved[pref] = _unique(o for o in objs if o is not None)
        return Resolution(groups=resolved_groups, principals=resolved,
                          problems=tuple(problems.values()))


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    seen: dict[str, _T] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return tuple(seen.values())


def _collect(listings: dict[str, Listing], keys: list[tuple[str, Match]], kind: str, ref: str,
             problems: dict[str, Problem]) -> list[dict] | None:
    """Items of one reference from its sub-requests; None when a 403 hid the answer."""
    items: list[dict] = []
    for key, match in keys:
        listing = listings[key]
        err: GraphError | None = listing.error
        if err is None:
            items.extend(i for i in listing.items if match(i))
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
