"""Application permissions the commands need (graph-pim-reference.md section 5).

`REQUIRED` is the one table per command (`doctor` checks it); the write helpers after it
serve `apply`'s own guard, from the same table.

Eligibility requests need `PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup`, assignment
requests `PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup`; the broad legacy
`PrivilegedAccess.ReadWrite.AzureADGroup` covers both (it is named in Graph's own 403 message,
section 3.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.desired.model import Kind

BROAD_WRITE = "PrivilegedAccess.ReadWrite.AzureADGroup"
WRITE_PERMISSION = {
    Kind.ELIGIBLE: "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
    Kind.ACTIVE: "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
}

POLICY_WRITE = "RoleManagementPolicy.ReadWrite.AzureADGroup"
"""Rule updates of a group's role management policies (reference 4.5, DOC-PolUpdate-beta)."""


# --- what each command needs (the one table; graph-pim-reference.md section 5) ---------------

@dataclass(frozen=True, slots=True)
class Requirement:
    """One application permission a command needs.

    `permission` is the least-privileged one to grant; `covered_by` the broader ones that
    also do (any one of them is enough); `need` what it is for; `when` the condition on the
    files: `always`, `users` / `service_principals` / `ids` (the files name such principals),
    `eligible` / `active` (the files manage eligible / active sections), `policies` (the
    files declare PIM settings); `source` the Graph doc it comes from; `probe` the read
    (`GraphBackend.probe`) that Graph refuses with 403 without it, when the token's roles are
    unknown (None: no read tells, e.g. a write-only permission)."""

    permission: str
    covered_by: tuple[str, ...]
    need: str
    when: str
    source: str
    probe: str | None = None

    def granted(self, roles: frozenset[str]) -> bool:
        """True when `roles` holds the permission or one that covers it."""
        return self.permission in roles or any(c in roles for c in self.covered_by)


_DIRECTORY = ("Directory.Read.All", "Directory.ReadWrite.All")
_READ: tuple[Requirement, ...] = (
    Requirement("PrivilegedEligibilitySchedule.Read.AzureADGroup",
                ("PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
                 "PrivilegedAccess.Read.AzureADGroup", BROAD_WRITE),
                "read eligibility schedules", "always",
                "privilegedaccessgroup-list-eligibilityschedules (reference 5: DEVX-1624)",
                "eligibility_schedules"),
    Requirement("PrivilegedAssignmentSchedule.Read.AzureADGroup",
                ("PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
                 "PrivilegedAccess.Read.AzureADGroup", BROAD_WRITE),
                "read assignment schedules", "always",
                "privilegedaccessgroup-list-assignmentscheduleinstances (reference 5: DEVX-1624)",
                "assignment_schedules"),
    Requirement("RoleManagementPolicy.Read.AzureADGroup", (POLICY_WRITE,),
                "read the groups' PIM policies", "always",
                "policyroot-list-rolemanagementpolicies (reference 5: DOC-PolList)", "policies"),
    Requirement("Group.Read.All", ("Group.ReadWrite.All", "GroupMember.Read.All", *_DIRECTORY),
                "resolve groups by name or id (and read groupTypes, onPremisesSyncEnabled)",
                "always", "group-list (reference 5, inferred)", "groups"),
    Requirement("User.Read.All", ("User.ReadWrite.All", *_DIRECTORY),
                "resolve users by UPN (and read their assignedPlans)", "users",
                "user-list (reference 5, inferred)", "users"),
    Requirement("Application.Read.All", ("Application.ReadWrite.All", *_DIRECTORY),
                "resolve service principals", "service_principals",
                "serviceprincipal-list (reference 5, inferred)", "service_principals"),
    Requirement("Directory.Read.All", ("Directory.ReadWrite.All",),
                "resolve principals given as bare object ids (directoryObjects/getByIds)",
                "ids", "directoryobject-getbyids (reference 5, inferred)", "directory_objects"),
)
_WRITE: tuple[Requirement, ...] = (
    Requirement(WRITE_PERMISSION[Kind.ELIGIBLE], (BROAD_WRITE,),
                "create, update and remove eligible assignments", "eligible",
                "privilegedaccessgroup-post-eligibilityschedulerequests (DOC-PostElig); listing "
                "requests needs it too (DOC-ListEligReq)", "eligibility_requests"),
    Requirement(WRITE_PERMISSION[Kind.ACTIVE], (BROAD_WRITE,),
                "create, update and remove active assignments", "active",
                "privilegedaccessgroup-post-assignmentschedulerequests (DOC-PostAssign); listing "
                "requests needs it too (reference 5)", "assignment_requests"),
    Requirement(POLICY_WRITE, (),
                "update the groups' PIM settings (policy rules)", "policies",
                "unifiedrolemanagementpolicyrule-update (reference 4.5, DOC-PolUpdate-beta)"),
)
REQUIRED: dict[str, tuple[Requirement, ...]] = {"plan": _READ, "apply": _READ + _WRITE}
"""Command -> the permissions it needs (conditions in `Requirement.when`). `apply` reads
everything `plan` reads, then writes."""


def required_permissions(command: str, conditions: Iterable[str]) -> list[Requirement]:
    """The requirements of `command` ("plan" or "apply") whose `when` is `always` or one of
    `conditions` (see `Requirement.when`), in table order. Raises `KeyError` for another
    command."""
    met = {"always", *conditions}
    return [r for r in REQUIRED[command] if r.when in met]


def missing_permissions(granted: frozenset[str], needed: Iterable[Requirement]
                        ) -> list[Requirement]:
    """The requirements of `needed` that `granted` (token roles) satisfies neither with the
    permission itself nor with one that covers it."""
    return [r for r in needed if not r.granted(granted)]


def _missing_writes(granted: frozenset[str] | None, when: set[str]) -> list[str]:
    """Names of the `_WRITE` permissions for the conditions `when` that `granted` lacks
    (sorted; empty when `granted` is None, i.e. unknown)."""
    if granted is None:
        return []
    return sorted(r.permission for r in missing_permissions(granted, _WRITE) if r.when in when)


def missing_policy_permission(granted: frozenset[str] | None) -> list[str]:
    """`[POLICY_WRITE]` when `granted` is known and lacks it, else `[]`."""
    return _missing_writes(granted, {"policies"})


def missing_write_permissions(granted: frozenset[str] | None, kinds: Iterable[Kind]) -> list[str]:
    """Names of the write permissions `granted` lacks for changes of `kinds` (sorted; empty
    when all present, when `granted` holds one that covers them, e.g. the broad
    `BROAD_WRITE`, or when `granted` is None, i.e. unknown)."""
    return _missing_writes(granted, {str(Kind(k)) for k in kinds})
