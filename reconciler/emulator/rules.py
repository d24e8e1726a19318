"""What Graph does with a POSTed schedule request (graph-pim-reference.md 2.3, 2.7, 3.1, 4, 7).

`process_request` validates the body, applies the PIM rules and changes the tenant's
schedules. Codes (all HTTP 400 unless noted):

- `RoleAssignmentExists`: `adminAssign` over an existing direct, admin-made schedule of the
  same (group, accessId, principal, kind).
- `RoleAssignmentDoesNotExist`: `adminUpdate` / `adminExtend` / `adminRenew` / `adminRemove`
  of a schedule that does not exist.
- `ActiveDurationTooShort`: a lifetime under five minutes; or a remove / update within five
  minutes of the schedule's start or creation, whichever is later and already past
  (`Schedule.lifetime_anchor`). Applied to eligibilities too (reference 3.1 leaves their
  code unconfirmed; the emulator's choice).
- `RoleAssignmentRequestPolicyValidationFailed`: message
  `The following policy rules failed: ["ExpirationRule"]` (permanent where expiration is
  required, or longer than `maximumDuration`; the maximum is enforced only when expiration is
  required, reference 4.4 leaves the other case open), `["JustificationRule"]`,
  `["TicketingRule"]` and `["MfaRule"]` from `Enablement_Admin_Eligibility` (eligibility
  requests) or `Enablement_Admin_Assignment` (assignment requests) of the group's policy for
  that accessId. Several failures are listed together.
- `InvalidRoleAssignmentRequest`: durations with years/months/weeks (TF-1464), a group with
  dynamic membership or synced from on-premises (the emulator's choice: Graph's code is
  unconfirmed, reference 3.1), an action other than the admin actions, a missing
  `scheduleInfo` where one is needed.
- `BadRequest`: a malformed body or a `duration` that is not ISO 8601 at all
  (`"90 days, 0:00:00"`, the msgraph-sdk timedelta bug, reference 6.3 / 10).
- 404 `ResourceNotFound`: a group id the tenant does not know (reference 3.1).
- `SubjectNotFound`: a principal id the tenant does not know (the legacy PIM code; the
  emulator's choice, reference 3.1 lists it as unconfirmed for PIM for Groups).

Actions: `adminAssign` creates a schedule whose GUID is the request id; `adminUpdate`,
`adminExtend` and `adminRenew` all set a new lifetime on the existing schedule in place (same
id, `modifiedDateTime` set); `adminRemove` needs no `scheduleInfo`, deletes the schedule and
answers `Revoked`. A requested start in the past is replaced by the processing time. A start in
the future gives status `ScheduleCreated` (reference 2.7 infers Granted/ScheduleCreated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.emulator import ids
from reconciler.emulator.errors import GraphError, bad_request, invalid_request
from reconciler.emulator.policy import rule_values
from reconciler.emulator.state import Schedule, ScheduleRequest
from reconciler.emulator.timefmt import (
    NotADuration,
    UnsupportedDurationUnit,
    format_time,
    parse_duration,
    parse_time,
)

if TYPE_CHECKING:
    from reconciler.emulator.tenant import Tenant

FIVE_MINUTES = timedelta(minutes=5)

ACTIONS = {
    a.lower(): a
    for a in (
        "adminAssign",
        "adminUpdate",
        "adminRemove",
        "selfActivate",
        "selfDeactivate",
        "adminExtend",
        "adminRenew",
        "selfExtend",
        "selfRenew",
        "unknownFutureValue",
    )
}
ADMIN_CHANGES = {"adminUpdate", "adminExtend", "adminRenew"}
EXPIRATION_TYPES = {
    t.lower(): t for t in ("notSpecified", "noExpiration", "afterDateTime", "afterDuration")
}


def too_short(message: str | None = None) -> GraphError:
    """400 `ActiveDurationTooShort` (reference 3.1; "Miniumum" is Graph's spelling)."""
    return GraphError(
        400,
        "ActiveDurationTooShort",
        message or "The Active duration is too short. Miniumum Required is 5 minutes.",
    )


def policy_failed(rules: list[str]) -> GraphError:
    """400 `RoleAssignmentRequestPolicyValidationFailed` naming the failed rules (reference 3.1)."""
    return GraphError(
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        "The following policy rules failed: " + json.dumps(rules, separators=(",", ":")),
    )


@dataclass(frozen=True, slots=True)
class Lifetime:
    """A requested lifetime: `start` (effective, never before processing time) and `end`
    (None = no expiration); `echo` is the `scheduleInfo` to answer with."""

    start: datetime
    end: datetime | None
    echo: dict[str, Any]


def _required_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"The request body is missing the required property '{key}'.")
    return value.strip()


def parse_lifetime(
    info: object, now: datetime, *, naive_utc: bool = False, weeks: bool = False
) -> Lifetime:
    """Read `scheduleInfo` (reference 2.1). Raises `GraphError` for malformed or refused parts.
    `naive_utc` / `weeks`: the `instant_without_zone: utc` / `week_durations: accepted`
    variants."""
    if not isinstance(info, dict):
        raise invalid_request("The role assignment request is invalid: scheduleInfo is required.")
    if info.get("recurrence") not in (None, {}):
        raise invalid_request(
            "The role assignment request is invalid: recurrence is not supported."
        )
    start = now
    raw_start = info.get("startDateTime")
    if raw_start is not None:
        try:
            requested = parse_time(raw_start, naive_utc=naive_utc)
        except ValueError as exc:
            raise bad_request(
                f"Cannot convert the literal '{raw_start}' to Edm.DateTimeOffset."
            ) from exc
        start = max(requested, now)
    expiration = info.get("expiration") or {}
    if not isinstance(expiration, dict):
        raise bad_request("The property 'expiration' must be an object.")
    raw_type = str(expiration.get("type") or "notSpecified")
    exp_type = EXPIRATION_TYPES.get(raw_type.lower())
    if exp_type is None:
        raise bad_request(f"The value '{raw_type}' is not valid for expirationPatternType.")
    end: datetime | None = None
    duration_text = expiration.get("duration")
    end_text = expiration.get("endDateTime")
    if exp_type == "afterDuration" or (exp_type == "notSpecified" and duration_text):
        try:
            end = start + parse_duration(duration_text, weeks=weeks)
        except UnsupportedDurationUnit as exc:
            raise invalid_request() from exc
        except NotADuration as exc:
            raise bad_request(
                f"Cannot convert the literal '{duration_text}' to the expected type 'Edm.Duration'."
            ) from exc
        exp_type = "afterDuration"
    elif exp_type == "afterDateTime" or (exp_type == "notSpecified" and end_text):
        if end_text is None:
            raise invalid_request(
                "The role assignment request is invalid: endDateTime is required."
            )
        try:
            end = parse_time(end_text, naive_utc=naive_utc)
        except ValueError as exc:
            raise bad_request(
                f"Cannot convert the literal '{end_text}' to Edm.DateTimeOffset."
            ) from exc
        exp_type = "afterDateTime"
    else:
        exp_type = "noExpiration"
    echo = {
        "startDateTime": format_time(start),
        "recurrence": None,
        "expiration": {
            "type": exp_type,
            "endDateTime": format_time(end) if exp_type == "afterDateTime" and end else None,
            "duration": duration_text if exp_type == "afterDuration" else None,
        },
    }
    return Lifetime(start, end, echo)


def _refusal(tenant: Tenant, kind: str, switch: str) -> GraphError:
    """The five-minute refusal: `ActiveDurationTooShort`, or for an eligibility the code the
    variant `switch` picks (reference 3.1 has none for eligibilities)."""
    code = "ActiveDurationTooShort" if kind == "active" else tenant.variant(switch)
    if code == "ActiveDurationTooShort":
        return too_short()
    return GraphError(
        400, code, "The role assignment request is invalid: the five-minute minimum applies."
    )


def _check_floor(tenant: Tenant, kind: str, life: Lifetime) -> None:
    if life.end is not None and life.end - life.start < FIVE_MINUTES:
        raise _refusal(tenant, kind, "short_eligibility_code")


def _check_anchor(tenant: Tenant, schedule: Schedule, now: datetime) -> None:
    """No removal or change within five minutes of the assignment being made (its start or
    creation), or, with `five_minute_anchor: latest_change` (the default), of its last
    update too (reference 3.1 does not say which)."""
    anchor = schedule.lifetime_anchor
    if tenant.variant("five_minute_anchor") == "latest_change" and schedule.modified:
        anchor = max(anchor, schedule.modified)
    if now - anchor < FIVE_MINUTES:
        raise _refusal(tenant, schedule.kind, "early_eligibility_removal_code")


def _check_policy(
    tenant: Tenant, kind: str, group_id: str, access: str, life: Lifetime, body: dict[str, Any]
) -> None:
    policy = tenant.policy_for(group_id, access)
    level = "Eligibility" if kind == "eligible" else "Assignment"
    failed: list[str] = []
    expiration = rule_values(policy, f"Expiration_Admin_{level}")
    required = expiration.get("isExpirationRequired", True)
    if required or tenant.variant("max_duration_without_expiration") == "enforced":
        maximum = expiration.get("maximumDuration")
        if life.end is None:
            if required:
                failed.append("ExpirationRule")
        elif maximum:
            try:
                limit = parse_duration(str(maximum))
            except (NotADuration, UnsupportedDurationUnit):
                limit = None
            if limit is not None and life.end - life.start > limit:
                failed.append("ExpirationRule")
    enabled = {
        str(r).lower()
        for r in rule_values(policy, f"Enablement_Admin_{level}").get("enabledRules", []) or []
    }
    if kind == "eligible" and tenant.variant("eligibility_enablement") == "ignored":
        enabled = set()
    justification = body.get("justification")
    if "justification" in enabled and not (
        isinstance(justification, str) and justification.strip()
    ):
        failed.append("JustificationRule")
    ticket = body.get("ticketInfo") or {}
    if "ticketing" in enabled and not (isinstance(ticket, dict) and ticket.get("ticketNumber")):
        failed.append(tenant.variant("ticketing_rule_name"))
    if "multifactorauthentication" in enabled:
        failed.append("MfaRule")  # app-only tokens carry no MFA claim (reference 3.1)
    if failed:
        raise policy_failed(failed)


def find_schedule(
    tenant: Tenant, kind: str, group_id: str, access: str, principal_id: str
) -> Schedule | None:
    """The live direct, admin-made schedule of that identity, or None (expired rows excluded)."""
    now = tenant.now()
    for schedule in tenant.schedules.values():
        if (
            schedule.kind == kind
            and schedule.group_id == group_id
            and schedule.access == access
            and schedule.principal_id == principal_id
            and schedule.member_type == "direct"
            and schedule.assignment_type == "assigned"
            and (schedule.end is None or schedule.end > now)
        ):
            return schedule
    return None


def process_request(
    tenant: Tenant,
    kind: str,
    body: object,
    *,
    lag_seconds: float = 0.0,
    force_failed: bool = False,
) -> ScheduleRequest:
    """Validate and carry out one schedule request; returns the stored request object.

    `kind` is `eligible` or `active`. Call under `tenant.lock`. Raises `GraphError`.
    `force_failed` records the request as `Failed` without changing any schedule (fault);
    `lag_seconds` hides a created schedule from reads for that much clock time (fault).
    """
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    now = tenant.now()
    raw_action = _required_str(body, "action")
    action = ACTIONS.get(raw_action.lower())
    if action is None:
        raise bad_request(f"The value '{raw_action}' is not valid for scheduleRequestActions.")
    access = _required_str(body, "accessId").lower()
    if access not in ("member", "owner"):
        raise bad_request(f"The value '{body.get('accessId')}' is not valid for accessId.")
    group_id = _required_str(body, "groupId")
    principal_id = _required_str(body, "principalId")
    group = tenant.groups.get(group_id)
    if group is None:
        raise GraphError(404, "ResourceNotFound", f"The resource '{group_id}' was not found.")
    if group.pim_refusal:
        raise GraphError(
            400,
            tenant.variant("unmanageable_group_code"),
            f"The role assignment request is invalid: group '{group_id}' has "
            f"{group.pim_refusal} and cannot be managed in PIM for Groups.",
        )
    if tenant.directory_object(principal_id) is None:
        raise GraphError(
            400,
            tenant.variant("unknown_principal_code"),
            f"The subject '{principal_id}' was not found.",
        )
    if action not in ADMIN_CHANGES | {"adminAssign", "adminRemove"}:
        raise invalid_request(
            f"The role assignment request is invalid: action '{action}' needs a signed-in "
            "principal; the emulator serves app-only admin actions."
        )

    request = ScheduleRequest(
        id=ids.new_guid(),
        kind=kind,
        action=action,
        status="Provisioned",
        group_id=group_id,
        access=access,
        principal_id=principal_id,
        created=now,
        completed=now,
        justification=body.get("justification"),
        ticket_info=body.get("ticketInfo"),
        is_validation_only=bool(body.get("isValidationOnly"))
        and tenant.variant("validation_only") == "dry_run",
    )
    existing = find_schedule(tenant, kind, group_id, access, principal_id)

    if action == "adminRemove":
        if existing is None:
            raise GraphError(
                400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."
            )
        _check_anchor(tenant, existing, now)
        request.status = "Revoked"
        request.target_schedule_id = existing.id
        request.schedule_info = body.get("scheduleInfo")
        if force_failed:
            request.status = "Failed"
        elif not request.is_validation_only:
            del tenant.schedules[existing.id]
        tenant.add_request(request)
        return request

    life = parse_lifetime(
        body.get("scheduleInfo"),
        now,
        naive_utc=tenant.variant("instant_without_zone") == "utc",
        weeks=tenant.variant("week_durations") == "accepted",
    )
    request.schedule_info = life.echo
    _check_floor(tenant, kind, life)
    if action == "adminAssign":
        if existing is not None:
            raise GraphError(400, "RoleAssignmentExists", "The Role assignment already exists.")
        _check_policy(tenant, kind, group_id, access, life, body)
        new_id = ids.schedule_id(group_id, access, request.id)
        request.target_schedule_id = new_id
        request.status = "ScheduleCreated" if life.start > now else "Provisioned"
        if force_failed:
            request.status = "Failed"
        elif not request.is_validation_only:
            if not tenant.schedules.with_value("group_id", group_id):  # type: ignore[attr-defined]
                # the group's first assignment onboards it to PIM: its policies get new ids
                # (reference 3.2)
                for access_id in ("member", "owner"):
                    tenant.policy_for(group_id, access_id).guid = ids.new_guid()
            tenant.schedules[new_id] = Schedule(
                id=new_id,
                kind=kind,
                group_id=group_id,
                access=access,
                principal_id=principal_id,
                created=now,
                start=life.start,
                end=life.end,
                created_using=request.id,
                visible_from=now + timedelta(seconds=lag_seconds) if lag_seconds else None,
            )
    else:  # adminUpdate / adminExtend / adminRenew: new lifetime in place
        if existing is None:
            raise GraphError(
                400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."
            )
        _check_anchor(tenant, existing, now)
        _check_policy(tenant, kind, group_id, access, life, body)
        request.target_schedule_id = existing.id
        if force_failed:
            request.status = "Failed"
        elif not request.is_validation_only:
            if existing.start is None or life.start > now or existing.start > now:
                existing.start = life.start
            existing.end = life.end
            existing.modified = now
    tenant.add_request(request)
    return request
