"""Application permissions needed for writes (graph-pim-reference.md section 5).

Eligibility requests need `PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup`, assignment
requests `PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup`; the broad legacy
`PrivilegedAccess.ReadWrite.AzureADGroup` covers both (it is named in Graph's own 403 message,
section 3.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.desired.model import Kind

BROAD_WRITE = "PrivilegedAccess.ReadWrite.AzureADGroup"
WRITE_PERMISSION = {
    Kind.ELIGIBLE: "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
    Kind.ACTIVE: "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
}

POLICY_WRITE = "RoleManagementPolicy.ReadWrite.AzureADGroup"
"""Rule updates of a group's role management policies (reference 4.5, DOC-PolUpdate-beta)."""


def missing_policy_permission(granted: frozenset[str] | None) -> list[str]:
    """`[POLICY_WRITE]` when `granted` is known and lacks it, else `[]`."""
    return [] if granted is None or POLICY_WRITE in granted else [POLICY_WRITE]


def missing_write_permissions(granted: frozenset[str] | None, kinds: Iterable[Kind]) -> list[str]:
    """Names of the write permissions `granted` lacks for changes of `kinds` (sorted; empty
    when all present, when `granted` holds the broad permission, or when `granted` is None,
    i.e. unknown)."""
    if granted is None or BROAD_WRITE in granted:
        return []
    return sorted({WRITE_PERMISSION[Kind(k)] for k in kinds} - set(granted))
