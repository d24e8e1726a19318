"""The plan: changes (values with a JSON-ready form), problems and information.

A `Plan` sorts its changes once, on construction, so every renderer and `apply` see the same
order: creates and renewals, then updates, then removals; within each by group, access, kind,
principal. Its `checksum` covers the changes only; `live_fingerprint` and `desired_digest` bind
it to the live state and files it was made from, and `live_snapshot` (the state the fingerprint
digests, `reconciler.live.snapshot`) lets a stale saved plan say what moved since.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.desired.model import Access, FilesDigest, Kind, PrincipalType
from reconciler.durations import format_instant, parse_instant
from reconciler.live.snapshot import Fingerprint, consistent
from reconciler.plan.scope import PlanScope
from reconciler.problems import Code, Problem, Severity

PLAN_FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"
    RENEW = "renew"
    UPDATE = "update"
    REMOVE = "remove"


class GraphAction(StrEnum):
    """`scheduleRequestActions` wire values (graph-pim-reference.md section 2.2)."""

    ADMIN_ASSIGN = "adminAssign"
    ADMIN_UPDATE = "adminUpdate"
    ADMIN_REMOVE = "adminRemove"
    ADMIN_EXTEND = "adminExtend"
    ADMIN_RENEW = "adminRenew"


def json_fields(value: Any) -> dict[str, Any]:
    """A slotted dataclass as JSON-ready fields: instants as UTC text, enums as their value."""
    out: dict[str, Any] = {}
    for name in value.__slots__:
        field_value = getattr(value, name)
        if isinstance(field_value, datetime):
            field_value = format_instant(field_value)
        elif isinstance(field_value, StrEnum):
            field_value = str(field_value)
        out[name] = field_value
    return out


_ORDER = {Action.CREATE: 0, Action.RENEW: 0, Action.UPDATE: 1, Action.REMOVE: 2}


@dataclass(frozen=True, slots=True)
class Change:
    """One schedule request to send.

    Lifetime after the change: `permanent` True means no expiration; otherwise `duration`
    (ISO 8601, sent as `afterDuration`, for rolling entries) or `end` (UTC, `afterDateTime`).
    `end` is always the expected end (for rolling entries: plan time + duration).
    `old_*` describe the live schedule being changed (None for creates).
    `not_before` set means the change is deferred by PIM's five-minute rule until then.
    """

    action: Action
    graph_action: GraphAction
    group_id: str
    group: str
    access: Access
    kind: Kind
    principal_id: str
    principal: str
    principal_type: PrincipalType
    reason: str
    permanent: bool = False
    end: datetime | None = None
    duration: str | None = None
    start: datetime | None = None
    schedule_id: str | None = None
    old_start: datetime | None = None
    old_end: datetime | None = None
    old_permanent: bool = False
    justification: str | None = None
    ticket_system: str | None = None
    ticket_number: str | None = None
    not_before: datetime | None = None
    file: str | None = None
    line: int | None = None

    @property
    def deferred(self) -> bool:
        return self.not_before is not None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.group_id, str(self.access), str(self.kind), self.principal_id)

    def sort_key(self) -> tuple[Any, ...]:
        return (_ORDER[self.action], self.group.lower(), self.group_id, self.access, self.kind,
                self.principal.lower(), self.principal_id)

    def to_dict(self) -> dict[str, Any]:
        return json_fields(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        kwargs = dict(data)
        for key in ("end", "start", "old_start", "old_end", "not_before"):
            if kwargs.get(key) is not None:
                kwargs[key] = parse_instant(kwargs[key])
        kwargs["action"] = Action(kwargs["action"])
        kwargs["graph_action"] = GraphAction(kwargs["graph_action"])
        kwargs["access"] = Access(kwargs["access"])
        kwargs["kind"] = Kind(kwargs["kind"])
        kwargs["principal_type"] = PrincipalType(kwargs["principal_type"])
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One rule of a group's role management policy to update (a `PATCH` of that rule).

    `before` / `after` hold only the managed fields that change, in the plan's JSON form
    (`reconciler.desired.policy.field_to_json`: durations ISO 8601, sets sorted lists,
    approvers `{"type", "id"}`); `names` gives display names of approver ids. `loosens` is
    True when the change weakens control (format.md: permanence allowed, a longer maximum,
    a requirement, approval or a notification removed).
    """

    group_id: str
    group: str
    access: Access
    rule: str
    before: dict[str, Any]
    after: dict[str, Any]
    loosens: bool
    reason: str = ""
    names: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.group_id, str(self.access), self.rule)

    def sort_key(self) -> tuple[Any, ...]:
        from reconciler.desired.policy import RULE_IDS

        order = RULE_IDS.index(self.rule) if self.rule in RULE_IDS else len(RULE_IDS)
        return (self.group.lower(), self.group_id, self.access, order, self.rule)

    def to_dict(self) -> dict[str, Any]:
        return json_fields(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyChange:
        kwargs = dict(data)
        kwargs["access"] = Access(kwargs["access"])
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class Info:
    """Something a reviewer should know that is not a change: an activation in progress, an
    inherited row, a deferred renewal length, a policy tightened under an in-sync entry."""

    code: str
    message: str
    group: str | None = None
    principal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "group": self.group,
                "principal": self.principal}


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    problems: tuple[Problem, ...]
    info: tuple[Info, ...]
    generated_at: datetime
    valid_until: datetime | None
    live_fingerprint: str
    desired_digest: str
    removal_counts: dict[str, int] = field(default_factory=dict)  # group id -> managed count
    policy_changes: tuple[PolicyChange, ...] = ()
    scope: PlanScope | None = None  # None: the whole directory (no --only / --shard)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=Change.sort_key)))
        object.__setattr__(self, "policy_changes",
                           tuple(sorted(self.policy_changes, key=PolicyChange.sort_key)))
        object.__setattr__(
            self, "problems",
            tuple(sorted(self.problems, key=lambda p: (p.severity != Severity.ERROR,
                                                        p.file or "", p.line or 0, p.code,
                                                        p.group or "", p.principal or ""))),
        )

    @classmethod
    def invalid(cls, problems: list[Problem] | tuple[Problem, ...], now: datetime) -> Plan:
        """A plan that could not be made (nothing could be read): problems only, exit 1.
        `now` is the run's clock; it is kept in whole seconds like every planned time."""
        return cls((), tuple(problems), (), now.replace(microsecond=0), None, "", "")

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def safety_errors(self) -> tuple[Problem, ...]:
        """Errors an operator may override with `--allow-removals N`."""
        return tuple(p for p in self.errors
                     if p.code in (Code.TOO_MANY_REMOVALS, Code.EMPTY_DESIRED_SET))

    @property
    def removals(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.REMOVE)

    @property
    def checksum(self) -> str:
        changes: list[Any] = [c.to_dict() for c in self.changes]
        if self.policy_changes:  # plans without policy changes keep their old checksum
            changes.append({"policy_changes": [p.to_dict() for p in self.policy_changes]})
        payload = json.dumps(changes, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def exit_code(self) -> int:
        """format.md: 0 no changes, 2 changes, 1 errors."""
        if self.errors:
            return 1
        return 2 if self.changes or self.policy_changes else 0

    def summary(self) -> dict[str, int]:
        counts = {str(a): 0 for a in Action}
        for c in self.changes:
            counts[str(c.action)] += 1
        counts["deferred"] = sum(1 for c in self.changes if c.deferred)
        counts["policy"] = len(self.policy_changes)
        counts["loosening"] = sum(1 for p in self.policy_changes if p.loosens)
        counts["errors"] = len(self.errors)
        counts["warnings"] = len(self.warnings)
        counts["info"] = len(self.info)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "generated_at": format_instant(self.generated_at),
            "valid_until": format_instant(self.valid_until) if self.valid_until else None,
            "live_fingerprint": self.live_fingerprint,
            "desired_digest": self.desired_digest,
            "checksum": self.checksum,
            "summary": self.summary(),
            "changes": [c.to_dict() for c in self.changes],
            "policy_changes": [p.to_dict() for p in self.policy_changes],
            "problems": [p.to_dict() for p in self.problems],
            "info": [i.to_dict() for i in self.info],
            "removal_counts": dict(self.removal_counts),
            "live_snapshot": getattr(self.live_fingerprint, "snapshot", None),
            "desired_files": getattr(self.desired_digest, "files", None),
            "scope": self.scope.to_dict() if self.scope else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        problems = tuple(
            Problem(Severity(p["severity"]), Code(p["code"]), p["message"], p.get("file"),
                    p.get("line"), p.get("group"), p.get("principal"))
            for p in data["problems"]
        )
        return cls(
            changes=tuple(Change.from_dict(c) for c in data["changes"]),
            problems=problems,
            info=tuple(Info(**i) for i in data["info"]),
            generated_at=parse_instant(data["generated_at"]),
            valid_until=parse_instant(data["valid_until"]) if data.get("valid_until") else None,
            live_fingerprint=Fingerprint(
                data["live_fingerprint"],
                data.get("live_snapshot")
                if consistent(data["live_fingerprint"], data.get("live_snapshot")) else None),
            desired_digest=_files_digest(data["desired_digest"], data.get("desired_files")),
            removal_counts=dict(data.get("removal_counts") or {}),
            policy_changes=tuple(PolicyChange.from_dict(p)
                                 for p in data.get("policy_changes") or []),
            scope=PlanScope.from_dict(data["scope"]) if data.get("scope") else None,
        )


def _files_digest(digest: str, files: Any) -> str:
    """The saved desired digest, with its per-file digests when they are what it digests."""
    if isinstance(files, dict) and all(isinstance(v, str) for v in files.values()):
        rebuilt = FilesDigest({str(k): v for k, v in files.items()})
        if rebuilt == digest:
            return rebuilt
    return digest


class PlanFileError(ValueError):
    """A saved plan file that cannot be trusted: unreadable, not a plan, or edited."""


def load_plan_file(path: str) -> Plan:
    """Read a plan saved by `plan --out`, checked against `schemas/plan.schema.json` and its
    own checksum (a plan edited after review is refused). Raises `PlanFileError`."""
    import jsonschema

    from reconciler.config.schema import load_schema

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise PlanFileError(f"{path} is not readable JSON: {exc}") from exc
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(load_schema("plan.schema.json")).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise PlanFileError(f"{path} is not a pim-reconciler plan: {where}: {error.message}")
    try:
        plan = Plan.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanFileError(f"{path} is not a pim-reconciler plan: {exc}") from exc
    if plan.checksum != data["checksum"]:
        raise PlanFileError(f"{path} was edited after it was made (its checksum does not match "
                            "its changes); plan again")
    if data.get("live_snapshot") is not None and not consistent(data["live_fingerprint"],
                                                                data["live_snapshot"]):
        raise PlanFileError(f"{path} was edited after it was made (its live snapshot does not "
                            "match its live fingerprint); plan again")
    if data.get("desired_files") is not None and not hasattr(plan.desired_digest, "files"):
        raise PlanFileError(f"{path} was edited after it was made (its desired files do not "
                            "match its desired digest); plan again")
    return plan
