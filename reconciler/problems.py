"""Problems: everything validate / plan / apply report to a user, each with a stable code.

Codes are the contract of `format.md` ("Stable problem codes"); CI and reviewers rely on them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Code(StrEnum):
    YAML_SYNTAX = "yaml_syntax"
    PATH_OUTSIDE_DIRECTORY = "path_outside_directory"
    DUPLICATE_KEY = "duplicate_key"
    SCHEMA = "schema"
    DUPLICATE_GROUP = "duplicate_group"
    DUPLICATE_ASSIGNMENT = "duplicate_assignment"
    LIFETIME_MISSING = "lifetime_missing"
    LIFETIME_CONFLICT = "lifetime_conflict"
    DURATION_UNIT_UNSUPPORTED = "duration_unit_unsupported"
    DURATION_TOO_SHORT = "duration_too_short"
    RENEW_BEFORE_TOO_LONG = "renew_before_too_long"
    UNTIL_TOO_SOON = "until_too_soon"
    UNTIL_IN_PAST = "until_in_past"
    PRINCIPAL_AMBIGUOUS = "principal_ambiguous"
    PRINCIPAL_NOT_FOUND = "principal_not_found"
    GROUP_AMBIGUOUS = "group_ambiguous"
    GROUP_NOT_FOUND = "group_not_found"
    GROUP_NOT_MANAGEABLE = "group_not_manageable"
    PERMANENT_NOT_ALLOWED = "permanent_not_allowed"
    DURATION_EXCEEDS_POLICY = "duration_exceeds_policy"
    MAXIMUM_MAY_APPLY = "maximum_may_apply"
    JUSTIFICATION_REQUIRED = "justification_required"
    TICKET_REQUIRED = "ticket_required"
    TOO_MANY_REMOVALS = "too_many_removals"
    EMPTY_DESIRED_SET = "empty_desired_set"
    PERMISSION_DENIED = "permission_denied"
    POLICY_NOT_FOUND = "policy_not_found"
    POLICY_TIGHTENED = "policy_tightened"
    PROTECTED_PRINCIPAL = "protected_principal"
    # PIM settings as code (format.md "The group's PIM settings")
    ACTIVATION_TOO_LONG = "activation_too_long"
    APPROVAL_WITHOUT_APPROVERS = "approval_without_approvers"
    APPROVER_INVALID = "approver_invalid"
    POLICY_CONFLICT = "policy_conflict"
    ADMIN_MFA_BLOCKS_AUTOMATION = "admin_mfa_blocks_automation"
    LIVE_EXCEEDS_POLICY = "live_exceeds_policy"
    POLICY_NOT_APPLIED = "policy_not_applied"
    APPROVAL_RECOMMENDED = "approval_recommended"
    TEMPLATE_NOT_FOUND = "template_not_found"
    LICENSE_MISSING = "license_missing"  # warning: an eligible user without P2 / ID Governance


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. `file`/`line` locate it in the desired-state files where known;
    `group` and `principal` name the objects as the user wrote them."""

    severity: Severity
    code: Code
    message: str
    file: str | None = None
    line: int | None = None
    group: str | None = None
    principal: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def where(self) -> str:
        """`file:line` (or `file`, or the group) for one-line output."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        if self.file:
            return self.file
        return self.group or "-"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity"] = str(self.severity)
        out["code"] = str(self.code)
        return out


def error(code: Code, message: str, **where: Any) -> Problem:
    return Problem(Severity.ERROR, code, message, **where)

