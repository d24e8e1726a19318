"""Reading live PIM state for a set of groups (graph-pim-reference.md sections 1.2-1.5, 4, 7).

Per group three list reads, all through `$batch` (20 items per envelope): eligibilitySchedules
and assignmentSchedules filtered by `groupId` (schedules, never request history: section 1.2),
and the group's roleManagementPolicyAssignments with `$expand=policy($expand=rules)` (both
member and owner in one list: section 4.1). NextLinks are followed in later batches. Then the
principals seen in the rows are named through `directoryObjects/getByIds` (batched too).
Activated and `memberType: group` rows are kept, marked as such; the planner sets them apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence

from reconciler.desired.model import Access, Kind
from reconciler.graph import decode
from reconciler.graph.batch import Batcher, Listing, SubRequest
from reconciler.graph.errors import ReadIncompleteError
from reconciler.graph.urls import Urls
from reconciler.live import snapshot
from reconciler.live.model import DirectoryObject, GroupPolicy, LiveSchedule, LiveState

GET_BY_IDS_MAX = 1000  # directoryObjects/getByIds takes up to 1,000 ids per call
PRINCIPAL_TYPES = ["user", "group", "servicePrincipal"]

_READ_PERMISSION = {
    "e": "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "a": "PrivilegedAssignmentSchedule.Read.AzureADGroup",
    "p": "RoleManagementPolicy.Read.AzureADGroup",
}
_WHAT = {"e": "eligibility schedules", "a": "assignment schedules", "p": "PIM policies"}


class Reader:
    """Reads `LiveState` for group ids; raises `ReadIncompleteError` rather than return a
    partial state (a failed item, a 403, throttling past the deadline)."""

    def __init__(self, batcher: Batcher, urls: Urls) -> None:
        self._batcher = batcher
        self._urls = urls

    async def read(self, group_ids: Sequence[str],
                   known: Mapping[str, DirectoryObject] | None = None,
                   group_names: Mapping[str, str] | None = None,
                   after: Awaitable[object] | None = None) -> LiveState:
        """Read schedules and policies of `group_ids`, then name the principals on the rows.
        `known` (id -> object, e.g. from resolving the desired files just before) names
        principals without another lookup; only the others go to `getByIds`. `group_names`
        (id -> display name) name the groups in the state's snapshot (`live.snapshot`).
        `after`, when given, is awaited between reading and naming (a resolution that fills
        `known` and `group_names` while the schedules are read); its error propagates."""
        gids = list(dict.fromkeys(group_ids))
        requests: list[SubRequest] = []
        for n, gid in enumerate(gids):
            requests.append(SubRequest(f"e{n}", "GET", self._urls.schedules(Kind.ELIGIBLE, gid)))
            requests.append(SubRequest(f"a{n}", "GET", self._urls.schedules(Kind.ACTIVE, gid)))
            requests.append(SubRequest(f"p{n}", "GET", self._urls.policy_assignments(gid)))
        listings = await self._batcher.fetch_lists(requests)

        schedules: list[LiveSchedule] = []
        policies: dict[tuple[str, Access], GroupPolicy] = {}
        for n, gid in enumerate(gids):
            for tag in ("e", "a", "p"):
                listing = listings.pop(f"{tag}{n}")  # raw JSON freed as it is decoded
                _raise_if_failed(listing, tag, gid)
                if tag == "p":
                    for item in listing.items:
                        pol = decode.policy(item, gid)
                        if pol is not None:
                            policies[(gid, pol.access)] = pol
                    continue
                kind = Kind.ELIGIBLE if tag == "e" else Kind.ACTIVE
                for row in listing.items:
                    sched = decode.schedule(row, kind)
                    if sched is not None:
                        schedules.append(sched)

        if after is not None:
            await after
        seen = {s.principal_id for s in schedules}
        for pol in policies.values():  # approvers are named like principals
            for fields in pol.settings.values():
                seen.update(a.id for a in fields.get("approvers") or ())
        known = known or {}
        fetched = await self.principals({i for i in seen if i not in known})
        principals = {i: known.get(i) or fetched[i] for i in sorted(seen)
                      if i in known or i in fetched}
        return LiveState(
            schedules=tuple(schedules),
            policies=policies,
            principals=principals,
            fingerprint=snapshot.take(
                schedules, policies.values(),
                {**{i: o.name for i, o in principals.items()},
                 **{g: n for g, n in (group_names or {}).items() if g in gids}}),
        )

    async def principals(self, ids: set[str]) -> dict[str, DirectoryObject]:
        """Name principal ids via `directoryObjects/getByIds` (batched). Ids Graph does not
        return (deleted objects) are left out; a 403/404 on the lookup leaves names out too
        (names are for display only); other failures raise `ReadIncompleteError`."""
        ordered = sorted(ids)
        chunks = [ordered[i:i + GET_BY_IDS_MAX] for i in range(0, len(ordered), GET_BY_IDS_MAX)]
        requests = [
            SubRequest(f"d{n}", "POST", self._urls.get_by_ids(),
                       {"ids": chunk, "types": PRINCIPAL_TYPES})
            for n, chunk in enumerate(chunks)
        ]
        if not requests:
            return {}
        listings = await self._batcher.fetch_lists(requests)
        out: dict[str, DirectoryObject] = {}
        for listing in listings.values():
            if listing.error is not None:
                if listing.error.status in (403, 404):
                    continue
                err = listing.error
                raise ReadIncompleteError(err.status, err.code,
                                          f"principal lookup failed: {err.message}",
                                          request_id=err.request_id)
            for item in listing.items:
                obj = decode.directory_object(item)
                if obj is not None:
                    out[obj.id] = obj
        return out


def _raise_if_failed(listing: Listing, tag: str, gid: str) -> None:
    err = listing.error
    if err is None:
        return
    message = f"reading {_WHAT[tag]} of group {gid} failed: {err.message}"
    if err.status == 403:
        message += f" (needs application permission {_READ_PERMISSION[tag]})"
    raise ReadIncompleteError(err.status, err.code, message, request_id=err.request_id,
                              inner_code=err.inner_code)
