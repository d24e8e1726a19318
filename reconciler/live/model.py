"""Live PIM state as read from Microsoft Graph, in our own model (no SDK types).

Produced by `reconciler.graph` (the only module that knows Graph URLs and JSON field names);
consumed by the planner. Facts follow `graph-pim-reference.md`: schedules (never request
history) are the source of truth (section 1.2); activated rows and `memberType: group` rows
are information, never managed (section 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.desired.model import Access, Kind, PrincipalRef, PrincipalType
from reconciler.desired.policy import RuleFields
from reconciler.problems import Problem


class MemberType(StrEnum):
    DIRECT = "direct"
    GROUP = "group"  # inherited through membership of another group


class AssignmentType(StrEnum):
    ASSIGNED = "assigned"  # made by an admin
    ACTIVATED = "activated"  # a principal's own just-in-time activation


@dataclass(frozen=True, slots=True)
class LiveSchedule:
    """One eligibilitySchedule (kind eligible) or assignmentSchedule (kind active).

    `end` None means no expiration (permanent). `start` None appears on rows made outside PIM.
    `assignment_type` is always `assigned` for eligibility schedules.
    """

    id: str
    group_id: str
    access: Access
    kind: Kind
    principal_id: str
    start: datetime | None
    end: datetime | None
    created: datetime | None
    modified: datetime | None = None  # None when Graph says "0001-01-01T08:00:00Z" (never)
    member_type: MemberType = MemberType.DIRECT
    assignment_type: AssignmentType = AssignmentType.ASSIGNED
    status: str = "Provisioned"

    @property
    def managed(self) -> bool:
        """Only admin-made direct rows are the reconciler's to change."""
        return (
            self.member_type is MemberType.DIRECT
            and self.assignment_type is AssignmentType.ASSIGNED
        )

    @property
    def identity(self) -> tuple[str, Access, Kind, str]:
        return (self.group_id, self.access, self.kind, self.principal_id)


@dataclass(frozen=True, slots=True)
class ExpirationRule:
    """`unifiedRoleManagementPolicyExpirationRule`: `isExpirationRequired`, `maximumDuration`."""

    is_expiration_required: bool = True
    maximum_duration: timedelta | None = None
    maximum_duration_text: str | None = None


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """The rules of one group's role management policy for one `accessId` (member or owner).

    `eligibility_expiration` is rule `Expiration_Admin_Eligibility`; `assignment_expiration` is
    `Expiration_Admin_Assignment`; the enablement sets are `enabledRules` of
    `Enablement_Admin_Eligibility` / `Enablement_Admin_Assignment` (`Justification`,
    `Ticketing`, `MultiFactorAuthentication`).
    """

    group_id: str
    access: Access
    policy_id: str
    eligibility_expiration: ExpirationRule
    assignment_expiration: ExpirationRule
    eligibility_enablement: frozenset[str] = frozenset()
    assignment_enablement: frozenset[str] = frozenset()
    settings: Mapping[str, RuleFields] = field(default_factory=dict)
    """Every rule read, decoded into the managed fields of `reconciler.desired.policy`
    (rule id -> field -> value). What the planner compares declared settings with."""
    raw_rules: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """The rules exactly as read (opaque outside `reconciler.graph`): a rule update sends the
    whole rule as read with only the managed fields changed (reference 4.5, DOCS-16689)."""

    def expiration(self, kind: Kind) -> ExpirationRule:
        return self.eligibility_expiration if kind is Kind.ELIGIBLE else self.assignment_expiration

    def enablement(self, kind: Kind) -> frozenset[str]:
        return self.eligibility_enablement if kind is Kind.ELIGIBLE else self.assignment_enablement


@dataclass(frozen=True, slots=True)
class DirectoryObject:
    """A resolved user, group or service principal."""

    id: str
    type: PrincipalType  # USER, GROUP or SERVICE_PRINCIPAL (never ID)
    display_name: str
    user_principal_name: str | None = None
    app_id: str | None = None
    service_plans: frozenset[str] | None = None
    """Users: the `servicePlanId`s of the user's `assignedPlans` whose `capabilityStatus` is
    `Enabled` (lower-case GUIDs); None when not read (groups, service principals, users
    looked up by bare id), which licence checks treat as unknown, not as unlicensed."""

    @property
    def name(self) -> str:
        """The name a reviewer knows it by: UPN for users, display name otherwise."""
        return self.user_principal_name or self.display_name


@dataclass(frozen=True, slots=True)
class LiveGroup:
    id: str
    display_name: str
    group_types: tuple[str, ...] = ()
    on_premises_sync_enabled: bool = False
    is_assignable_to_role: bool = False

    @property
    def unmanageable_reason(self) -> str | None:
        """Why PIM for Groups cannot manage it (dynamic membership or synced from on-premises)."""
        if "DynamicMembership" in self.group_types:
            return "it has dynamic membership"
        if self.on_premises_sync_enabled:
            return "it is synchronised from on-premises"
        return None


@dataclass(frozen=True, slots=True)
class Resolution:
    """Names in the desired files resolved against the directory.

    `groups` maps each group reference as written (name or id) to every matching group;
    `principals` maps each `PrincipalRef` to every matching object. Zero matches is "not
    found", more than one is "ambiguous": the planner turns those into problems with file:line.
    `problems` holds what resolution itself hit (e.g. `permission_denied`).
    """

    groups: Mapping[str, tuple[LiveGroup, ...]]
    principals: Mapping[PrincipalRef, tuple[DirectoryObject, ...]]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveState:
    """What Graph says about the managed groups.

    `schedules` holds every row read for those groups, managed or not. `policies` is keyed by
    (group id, access). `principals` names every principal id seen in `schedules` that could be
    looked up (for display). `fingerprint` is a SHA-256 over the rows and policy rules read, so
    a saved plan can tell that live state moved since it was made; as read from Graph it is a
    `reconciler.live.snapshot.Fingerprint`, carrying the snapshot that says what moved.
    """

    schedules: tuple[LiveSchedule, ...]
    policies: Mapping[tuple[str, Access], GroupPolicy]
    principals: Mapping[str, DirectoryObject] = field(default_factory=dict)
    fingerprint: str = ""
