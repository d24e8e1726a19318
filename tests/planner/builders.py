"""Hand-made desired and live states for pure planner tests (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.desired.model import (
    Access,
    Defaults,
    DesiredAssignment,
    DesiredGroup,
    DesiredState,
    Kind,
    Lifetime,
    Location,
    Mode,
    PrincipalRef,
    PrincipalType,
    Safety,
    Settings,
)
from reconciler.durations import parse_duration
from reconciler.live.model import (
    AssignmentType,
    DirectoryObject,
    ExpirationRule,
    GroupPolicy,
    LiveGroup,
    LiveSchedule,
    LiveState,
    MemberType,
    Resolution,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GID = "11111111-1111-1111-1111-111111111111"
GROUP = LiveGroup(GID, "grp-app")


def user(n: int) -> DirectoryObject:
    return DirectoryObject(f"00000000-0000-0000-0000-{n:012d}", PrincipalType.USER,
                           f"User {n}", user_principal_name=f"user{n}@contoso.example")


def ref(n: int) -> PrincipalRef:
    return PrincipalRef(PrincipalType.USER, f"user{n}@contoso.example")


def entry(n: int, lifetime: Lifetime, *, access: Access = Access.MEMBER,
          kind: Kind = Kind.ELIGIBLE, justification: str | None = "because",
          start: datetime | None = None, line: int = 5) -> DesiredAssignment:
    return DesiredAssignment(access, kind, ref(n), lifetime, Location("groups/app.yaml", line),
                             start=start, justification=justification)


def rolling(text: str) -> Lifetime:
    return Lifetime.rolling(parse_duration(text), text)


def group(*entries: DesiredAssignment, mode: Mode = Mode.AUTHORITATIVE,
          managed: set[tuple[Access, Kind]] | None = None) -> DesiredGroup:
    sections = managed if managed is not None else {(e.access, e.kind) for e in entries}
    return DesiredGroup("grp-app", mode, frozenset(sections), tuple(entries),
                        Location("groups/app.yaml", 1))


def desired(*groups: DesiredGroup, protected: tuple[int, ...] = (), max_removals: int = 10,
            renew_before: str = "P14D") -> DesiredState:
    settings = Settings(
        protected=tuple(ref(n) for n in protected),
        safety=Safety(max_removals=max_removals),
        defaults=Defaults(renew_before=parse_duration(renew_before),
                          renew_before_text=renew_before),
        location=Location("pim-reconciler.yaml", 1),
    )
    return DesiredState("access", settings, tuple(groups), "digest")


def row(n: int, *, end: datetime | None, created: datetime | None = None,
        access: Access = Access.MEMBER, kind: Kind = Kind.ELIGIBLE,
        start: datetime | None = None, assignment_type: AssignmentType = AssignmentType.ASSIGNED,
        member_type: MemberType = MemberType.DIRECT) -> LiveSchedule:
    created = created or NOW - timedelta(days=10)
    return LiveSchedule(f"{GID}_{access}_{n:04d}", GID, access, kind, user(n).id,
                        start or created, end, created, member_type=member_type,
                        assignment_type=assignment_type)


def policy(access: Access = Access.MEMBER, *, eligible_permanent: bool = False,
           eligible_max: str = "P365D", active_permanent: bool = False,
           active_max: str = "P180D", active_enabled: frozenset[str] = frozenset({"Justification"}),
           ) -> GroupPolicy:
    return GroupPolicy(
        GID, access, f"Group_{GID}_{access}",
        ExpirationRule(not eligible_permanent, parse_duration(eligible_max), eligible_max),
        ExpirationRule(not active_permanent, parse_duration(active_max), active_max),
        frozenset(), active_enabled)


def live(*rows: LiveSchedule, policies: tuple[GroupPolicy, ...] | None = None,
         users: range = range(1, 10)) -> tuple[Resolution, LiveState]:
    pols = policies or (policy(Access.MEMBER), policy(Access.OWNER))
    resolution = Resolution(
        groups={"grp-app": (GROUP,)},
        principals={ref(n): (user(n),) for n in users},
    )
    state = LiveState(tuple(rows), {(p.group_id, p.access): p for p in pols},
                      {user(n).id: user(n) for n in users}, "fp")
    return resolution, state
