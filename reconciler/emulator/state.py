"""The emulated tenant's records (mutable; guarded by the Tenant's lock).

Field meanings follow graph-pim-reference.md 2.3-2.5 and 7. Kinds: `eligible`
(eligibilitySchedule*) and `active` (assignmentSchedule*). Times are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class User:
    """`assigned_plans`: the user's `assignedPlans` as the tenant file gives them (dicts with
    `servicePlanId`, `capabilityStatus`, ...); None when the file does not say, served as one
    enabled Microsoft Entra ID P2 plan (`resources.DEFAULT_ASSIGNED_PLANS`)."""

    id: str
    user_principal_name: str
    display_name: str
    mail: str | None = None
    assigned_plans: list[dict[str, object]] | None = None


@dataclass
class Group:
    id: str
    display_name: str
    group_types: list[str] = field(default_factory=list)
    on_premises_sync_enabled: bool | None = None
    security_enabled: bool = True
    mail_enabled: bool = False
    is_assignable_to_role: bool | None = None
    description: str | None = None

    @property
    def pim_refusal(self) -> str | None:
        """Why PIM for Groups cannot manage this group (reference 3.1: ENTRA-Discover), or None."""
        if any(t.lower() == "dynamicmembership" for t in self.group_types):
            return "dynamic membership"
        if self.on_premises_sync_enabled:
            return "synchronized from on-premises"
        return None


@dataclass
class ServicePrincipal:
    id: str
    display_name: str
    app_id: str


@dataclass
class Schedule:
    """One eligibility or assignment schedule.

    `end` None = no expiration; `start` None marks rows made outside PIM (reference 7).
    `visible_from`: before that clock time GET/list do not show it (visibility-lag fault).
    """

    id: str
    kind: str  # eligible | active
    group_id: str
    access: str  # member | owner
    principal_id: str
    created: datetime
    start: datetime | None
    end: datetime | None
    modified: datetime | None = None
    member_type: str = "direct"  # direct | group
    assignment_type: str = "assigned"  # assigned | activated (active only)
    status: str = "Provisioned"
    created_using: str | None = None
    visible_from: datetime | None = None

    @property
    def lifetime_anchor(self) -> datetime:
        """When the assignment was made, for the five-minute rule: its start if that lies after
        the creation (a past requested start is replaced by processing time), else creation."""
        if self.start is not None and self.created < self.start:
            return self.start
        return self.created


@dataclass
class ScheduleRequest:
    """One eligibilityScheduleRequest / assignmentScheduleRequest (reference 2.3)."""

    id: str
    kind: str
    action: str
    status: str
    group_id: str
    access: str
    principal_id: str
    created: datetime
    completed: datetime | None
    schedule_info: dict[str, object] | None = None
    justification: str | None = None
    ticket_info: dict[str, object] | None = None
    target_schedule_id: str | None = None
    is_validation_only: bool = False


@dataclass
class Policy:
    """The role management policy of one (group, access): rule overrides over the defaults.

    `overrides` maps rule id to the fields that differ from the default (reference 4.4).
    """

    group_id: str
    access: str
    guid: str
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)
    last_modified: datetime | None = None

    @property
    def policy_id(self) -> str:
        return f"Group_{self.group_id}_{self.guid}"

    @property
    def assignment_id(self) -> str:
        return f"{self.policy_id}_{self.access}"
