"""The PIM-settings vocabulary shared by the desired and live models: the rules of a group's
role management policy (one per `accessId`, member or owner) and the fields we manage in
each, under the names the files use.

A policy is compared rule by rule and field by field as a flat mapping
`rule id -> {field -> value}` with normalised values:

- `permanent`: bool (`not isExpirationRequired`); Expiration_Admin_Eligibility / _Assignment
- `max_duration`: `timedelta` (ISO 8601 on the wire); the three Expiration_* rules
- `require`: frozenset of `Requirement` values; the three Enablement_* rules
- `required`: bool; Approval_EndUser_Assignment
- `approvers`: frozenset of `Approver` (desired: of `PrincipalRef` until resolved); same rule
- `authentication_context`: claim value `str`, or None when off;
  AuthenticationContext_EndUser_Assignment
- `default_recipients` (bool), `recipients` (frozenset of e-mail addresses), `level`
  (`NotificationLevel`); the nine Notification_* rules

Rule ids and their meaning: graph-pim-reference.md 4.2 (seen: DOC-PolAssignList example 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from reconciler.durations import format_duration, parse_duration

EXPIRATION_ELIGIBILITY = "Expiration_Admin_Eligibility"
ENABLEMENT_ELIGIBILITY = "Enablement_Admin_Eligibility"
EXPIRATION_ASSIGNMENT = "Expiration_Admin_Assignment"
ENABLEMENT_ASSIGNMENT = "Enablement_Admin_Assignment"
EXPIRATION_ACTIVATION = "Expiration_EndUser_Assignment"
ENABLEMENT_ACTIVATION = "Enablement_EndUser_Assignment"
APPROVAL_ACTIVATION = "Approval_EndUser_Assignment"
AUTH_CONTEXT_ACTIVATION = "AuthenticationContext_EndUser_Assignment"

EVENTS = {  # file name -> rule id part
    "eligible_assigned": "Admin_Eligibility",
    "active_assigned": "Admin_Assignment",
    "activated": "EndUser_Assignment",
}
RECIPIENTS = {"admin": "Admin", "requestor": "Requestor", "approver": "Approver"}


def notification_rule(event: str, recipient: str) -> str:
    """`("activated", "approver")` -> `Notification_Approver_EndUser_Assignment`."""
    return f"Notification_{RECIPIENTS[recipient]}_{EVENTS[event]}"


NOTIFICATION_RULES = tuple(notification_rule(e, r) for e in EVENTS for r in RECIPIENTS)
RULE_IDS = (
    EXPIRATION_ELIGIBILITY,
    ENABLEMENT_ELIGIBILITY,
    EXPIRATION_ASSIGNMENT,
    ENABLEMENT_ASSIGNMENT,
    EXPIRATION_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    *NOTIFICATION_RULES,
)
"""Every rule we read and may write, in the order plans show them."""


class Requirement(StrEnum):
    """`require:` values; on the wire `enabledRules` (reference 4.3, DOC-EnablementRule)."""

    MFA = "mfa"  # MultiFactorAuthentication
    JUSTIFICATION = "justification"  # Justification
    TICKET = "ticket"  # Ticketing


class NotificationLevel(StrEnum):
    ALL = "all"
    CRITICAL = "critical"
    NONE = "none"


class ApproverType(StrEnum):
    USER = "user"  # singleUser subject set
    GROUP = "group"  # groupMembers subject set


@dataclass(frozen=True, slots=True, order=True)
class Approver:
    """A resolved approver: a user or the members of a group, by object id."""

    type: ApproverType
    id: str


FieldValue = bool | timedelta | frozenset | str | None
RuleFields = Mapping[str, FieldValue]


ACTIVATION_MAXIMUM = timedelta(hours=24)
"""The longest activation the admin center offers (reference 4.5, ENTRA-RoleSettings)."""


def field_to_json(value: FieldValue) -> object:
    """A field value in the plan's JSON form: durations as ISO 8601 text, sets as sorted
    lists (approvers as `{"type", "id"}` objects), everything else as is."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, frozenset):
        items = sorted(value)
        return [{"type": str(a.type), "id": a.id} if isinstance(a, Approver) else str(a)
                for a in items]
    if isinstance(value, StrEnum):
        return str(value)
    return value


def field_from_json(name: str, data: object) -> FieldValue:
    """Inverse of `field_to_json` for the field `name`. Raises `ValueError` on bad data."""
    if data is None:
        return None
    if name == "max_duration":
        return parse_duration(str(data))
    if name == "approvers":
        return frozenset(Approver(ApproverType(a["type"]), str(a["id"]))  # type: ignore[index]
                         for a in data)  # type: ignore[attr-defined]
    if name in ("require", "recipients"):
        return frozenset(str(x) for x in data)  # type: ignore[attr-defined]
    if name == "level":
        return NotificationLevel(str(data))
    return data  # type: ignore[return-value]


def same_value(live: FieldValue, desired: FieldValue) -> bool:
    """Field equality as Graph compares: text (claim values, e-mail addresses) ignoring
    case, sets as sets."""
    def fold(value: object) -> object:
        if isinstance(value, str) and not isinstance(value, StrEnum):
            return value.casefold()
        if isinstance(value, frozenset):
            return frozenset(fold(v) for v in value)
        return value

    return fold(live) == fold(desired)


NEW_GROUP_DEFAULTS: Mapping[str, Mapping[str, FieldValue]] = {
    EXPIRATION_ELIGIBILITY: {"permanent": False, "max_duration": timedelta(days=365)},
    ENABLEMENT_ELIGIBILITY: {"require": frozenset()},
    EXPIRATION_ASSIGNMENT: {"permanent": False, "max_duration": timedelta(days=180)},
    ENABLEMENT_ASSIGNMENT: {"require": frozenset({Requirement.JUSTIFICATION})},
    EXPIRATION_ACTIVATION: {"max_duration": timedelta(hours=8)},
    ENABLEMENT_ACTIVATION: {"require": frozenset({Requirement.JUSTIFICATION})},
    APPROVAL_ACTIVATION: {"required": False, "approvers": frozenset()},
    AUTH_CONTEXT_ACTIVATION: {"authentication_context": None},
    **{rule: {"default_recipients": True, "recipients": frozenset(),
              "level": NotificationLevel.ALL} for rule in NOTIFICATION_RULES},
}
"""The managed fields of a freshly onboarded group's policy (either access), as
graph-pim-reference.md 4.4 gives them (seen: DOC-PolAssignList example 4, DOC-Overview); the
notification rules' `isDefaultRecipientsEnabled: true`, `notificationLevel: All`, no extra
recipients are the admin center's defaults [inferred]. What `export --policies` leaves out."""
