"""The desired-state model: what the YAML files declare, typed and validated.

Produced by `reconciler.config` (the only module that knows YAML); consumed by the planner.
All datetimes are aware UTC; durations are `timedelta` with their ISO 8601 text kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.desired.policy import FieldValue


class Access(StrEnum):
    """Graph's `accessId`: membership or ownership of the group."""

    MEMBER = "member"
    OWNER = "owner"


class Kind(StrEnum):
    """Eligible (eligibilitySchedules) or active (assignmentSchedules)."""

    ELIGIBLE = "eligible"
    ACTIVE = "active"


class LifetimeType(StrEnum):
    PERMANENT = "permanent"
    UNTIL = "until"
    DURATION = "duration"


class PrincipalType(StrEnum):
    USER = "user"
    GROUP = "group"
    SERVICE_PRINCIPAL = "servicePrincipal"
    ID = "id"  # an object id of any type


class Mode(StrEnum):
    AUTHORITATIVE = "authoritative"  # undeclared admin-made assignments are removed
    ADDITIVE = "additive"  # never remove; only add / update what is declared


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class PrincipalRef:
    """How a file names a principal: a UPN (user), an object id, or an explicit typed name."""

    type: PrincipalType
    value: str

    def __str__(self) -> str:
        if self.type in (PrincipalType.USER, PrincipalType.ID):
            return self.value
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Lifetime:
    """Exactly one of permanent, a fixed `until` (UTC), or a rolling `duration`."""

    type: LifetimeType
    until: datetime | None = None
    duration: timedelta | None = None
    duration_text: str | None = None  # the ISO 8601 text as written, e.g. "P180D"

    @classmethod
    def permanent(cls) -> Lifetime:
        return cls(LifetimeType.PERMANENT)

    @classmethod
    def fixed(cls, until: datetime) -> Lifetime:
        return cls(LifetimeType.UNTIL, until=until)

    @classmethod
    def rolling(cls, duration: timedelta, text: str) -> Lifetime:
        return cls(LifetimeType.DURATION, duration=duration, duration_text=text)

    def describe(self) -> str:
        if self.type is LifetimeType.PERMANENT:
            return "permanent"
        if self.type is LifetimeType.UNTIL:
            assert self.until is not None
            return f"until {self.until.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return f"rolling {self.duration_text}"


@dataclass(frozen=True, slots=True)
class Ticket:
    system: str | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class DesiredAssignment:
    """One declared (access, kind, principal) with its lifetime and write-time metadata."""

    access: Access
    kind: Kind
    principal: PrincipalRef
    lifetime: Lifetime
    location: Location
    start: datetime | None = None  # optional future start (UTC)
    justification: str | None = None
    ticket: Ticket | None = None


@dataclass(frozen=True, slots=True)
class DesiredRule:
    """The declared fields of one rule (only these are managed), with where each was written
    (`lines[field]`: 1-based line in `location.file`; a field from a template is placed at the
    group's `template:` line, or at its `group:` line when `defaults.policy` applied it)."""

    rule: str
    fields: Mapping[str, FieldValue]
    location: Location
    lines: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DesiredPolicy:
    """A group's declared settings for one access (after merging its template under the
    group's own fields). `template` names the template used, if any; `approvers` holds the
    approver references as written (resolved by the Graph adapter like principals)."""

    access: Access
    rules: tuple[DesiredRule, ...]
    location: Location
    template: str | None = None
    approvers: tuple[PrincipalRef, ...] = ()

    def rule(self, rule_id: str) -> DesiredRule | None:
        return next((r for r in self.rules if r.rule == rule_id), None)


@dataclass(frozen=True, slots=True)
class DesiredGroup:
    """One group file. `managed` lists the (access, kind) sections the file states; sections
    left out are not managed (neither drift nor removed)."""

    group: str  # display name or object id, as written
    mode: Mode
    managed: frozenset[tuple[Access, Kind]]
    assignments: tuple[DesiredAssignment, ...]
    location: Location
    description: str | None = None
    incomplete: frozenset[tuple[Access, Kind]] = frozenset()
    """Sections holding an entry with an error (left out of `assignments`): the planner
    withholds their removals."""
    usable: bool = True
    """False when the file has an error outside any entry: nothing of it is planned."""
    policies: tuple[DesiredPolicy, ...] = ()
    """Declared PIM settings per access (`policy:` merged over its template, or
    `defaults.policy`); empty when the group's settings are not managed."""


@dataclass(frozen=True, slots=True)
class PolicyTemplate:
    """One `policy_templates` entry of the settings file: rule id -> declared fields (typed as
    in `DesiredRule.fields`), merged under a group's own fields. `usable` is False when the
    template has an error: a group using it gets no policy planned."""

    name: str
    rules: Mapping[str, Mapping[str, FieldValue]]
    location: Location
    approvers: tuple[PrincipalRef, ...] = ()
    usable: bool = True


@dataclass(frozen=True, slots=True)
class Safety:
    max_removals: int = 10
    max_removal_fraction: float = 0.25


@dataclass(frozen=True, slots=True)
class Defaults:
    renew_before: timedelta = timedelta(days=14)
    renew_before_text: str = "P14D"
    justification: str | None = None
    eligible: Lifetime | None = None
    active: Lifetime | None = None
    policy: Mapping[Access, str] = field(default_factory=dict)
    """`defaults.policy`: the template applied per access to groups without their own."""


@dataclass(frozen=True, slots=True)
class Settings:
    """`pim-reconciler.yaml`; every field has a default so the file is optional."""

    tenant: str | None = None
    protected: tuple[PrincipalRef, ...] = ()
    safety: Safety = field(default_factory=Safety)
    defaults: Defaults = field(default_factory=Defaults)
    location: Location | None = None
    policy_templates: Mapping[str, PolicyTemplate] = field(default_factory=dict)
    report_expiring_within: timedelta = timedelta(days=14)
    """`report.expiring_within`: the access report flags assignments ending this soon."""


class FilesDigest(str):
    """Hex SHA-256 over every file's relative path and the SHA-256 of its bytes (sorted by
    path, each part length-prefixed), carrying `files` (relative path -> SHA-256 of its
    bytes) so that a saved plan can say which files changed. Compares as its text."""

    files: dict[str, str]

    def __new__(cls, files: Mapping[str, str]) -> FilesDigest:
        digest = hashlib.sha256()
        for rel, sha in sorted(files.items()):
            for part in (rel.encode("utf-8"), sha.encode("ascii")):
                digest.update(len(part).to_bytes(4, "big") + part)
        obj = super().__new__(cls, digest.hexdigest())
        obj.files = dict(sorted(files.items()))
        return obj

    @classmethod
    def of_bytes(cls, files: Iterable[tuple[str, bytes]]) -> FilesDigest:
        return cls({rel: hashlib.sha256(raw).hexdigest() for rel, raw in files})

    def changed(self, other: Mapping[str, str]) -> list[str]:
        """`path added|removed|changed` for each file that differs from `other` (the files
        of an earlier digest) to these."""
        out = [f"{rel} {'added' if rel not in other else 'changed'}"
               for rel, sha in self.files.items() if other.get(rel) != sha]
        out += [f"{rel} removed" for rel in other if rel not in self.files]
        return sorted(out)


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything under one desired-state directory. `digest` (a `FilesDigest`) binds a saved
    plan to the files it was made from."""

    root: str
    settings: Settings
    groups: tuple[DesiredGroup, ...]
    digest: str
