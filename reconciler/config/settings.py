"""`pim-reconciler.yaml` -> `Settings` (tenant, protected principals, safety, defaults,
policy templates).

Every field is optional; format.md "Settings file" gives the defaults. `renew_before` below
PT5M is a `schema` error (PIM's five-minute floor, graph-pim-reference.md section 6.3).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from reconciler.config.fields import DURATION, read_lifetime, read_principal
from reconciler.config.policy import TEMPLATES_KEY, read_default_policy, read_templates
from reconciler.config.report import FileReport
from reconciler.desired.model import (
    Defaults,
    Kind,
    Lifetime,
    Location,
    PrincipalRef,
    Safety,
    Settings,
)
from reconciler.durations import MINIMUM_ASSIGNMENT, DurationError, parse_duration
from reconciler.problems import Code


def read_settings(report: FileReport, data: dict[str, Any]) -> tuple[Settings, frozenset[Kind]]:
    """Build `Settings` from a parsed (mapping) settings file. Returns the settings and the
    kinds whose default lifetime the file states (valid or not)."""
    tenant = data.get("tenant")
    protected: list[PrincipalRef] = []
    raw_protected = data.get("protected")
    if isinstance(raw_protected, list):
        for i, value in enumerate(raw_protected):
            ref = read_principal(report, value, ("protected", i))
            if ref is not None:
                protected.append(ref)

    safety = Safety()
    raw_safety = data.get("safety")
    if isinstance(raw_safety, dict):
        max_removals = raw_safety.get("max_removals", safety.max_removals)
        fraction = raw_safety.get("max_removal_fraction", safety.max_removal_fraction)
        valid_count = isinstance(max_removals, int) and not isinstance(max_removals, bool)
        valid_fraction = isinstance(fraction, int | float) and not isinstance(fraction, bool)
        safety = Safety(
            max_removals=max_removals if valid_count and max_removals >= 0 else 10,
            max_removal_fraction=float(fraction) if valid_fraction and 0 <= fraction <= 1 else 0.25,
        )

    templates = read_templates(report, data.get(TEMPLATES_KEY))
    defaults, stated = _defaults(report, data.get("defaults"))
    if isinstance(data.get("defaults"), dict):
        defaults = replace(defaults, policy=read_default_policy(
            report, data["defaults"].get("policy"), templates))
    expiring_within = Settings().report_expiring_within
    raw_report = data.get("report")
    if isinstance(raw_report, dict) and isinstance(raw_report.get("expiring_within"), str):
        expiring_within = _duration_setting(
            report, raw_report["expiring_within"], ("report", "expiring_within")
        ) or expiring_within
    settings = Settings(
        tenant=tenant if isinstance(tenant, str) and tenant else None,
        protected=tuple(protected),
        safety=safety,
        defaults=defaults,
        location=Location(report.file, 1),
        policy_templates=templates,
        report_expiring_within=expiring_within,
    )
    return settings, stated


def _duration_setting(report: FileReport, text: str, path: tuple[str, ...]) -> timedelta | None:
    """A duration setting; None (reported) when its unit is not supported."""
    if not DURATION.match(text):
        return None  # the schema pass reports it
    try:
        return parse_duration(text)
    except DurationError as exc:
        code = Code.DURATION_UNIT_UNSUPPORTED if exc.unsupported_unit else Code.SCHEMA
        report.add(code, f"{'.'.join(path)}: {exc}", path)
        return None


def _defaults(report: FileReport, raw: Any) -> tuple[Defaults, frozenset[Kind]]:
    if not isinstance(raw, dict):
        return Defaults(), frozenset()
    base = Defaults()
    renew_before, renew_text = base.renew_before, base.renew_before_text
    if "renew_before" in raw:
        text = raw["renew_before"]
        delta = _renew_before(report, text)
        if delta is not None:
            renew_before, renew_text = delta, text
    justification = raw.get("justification")
    lifetimes: dict[Kind, Lifetime | None] = {}
    stated: set[Kind] = set()
    for kind in Kind:
        value = raw.get(kind.value)
        if isinstance(value, dict):
            lifetime, was_stated = read_lifetime(report, value, ("defaults", kind.value))
            lifetimes[kind] = lifetime
            if was_stated or value:
                stated.add(kind)
        elif kind.value in raw:
            stated.add(kind)  # wrong shape: the schema pass reports it
    defaults = Defaults(
        renew_before=renew_before,
        renew_before_text=renew_text,
        justification=justification if isinstance(justification, str) and justification else None,
        eligible=lifetimes.get(Kind.ELIGIBLE),
        active=lifetimes.get(Kind.ACTIVE),
    )
    return defaults, frozenset(stated)


def _renew_before(report: FileReport, text: Any) -> timedelta | None:
    path = ("defaults", "renew_before")
    if isinstance(text, str):
        if not DURATION.match(text):
            return None  # the schema pass reports it
        try:
            delta = parse_duration(text)
        except DurationError as exc:
            code = Code.DURATION_UNIT_UNSUPPORTED if exc.unsupported_unit else Code.SCHEMA
            report.add(code, f"defaults.renew_before: {exc}", path)
            return None
        if delta < MINIMUM_ASSIGNMENT:
            report.add(
                Code.SCHEMA,
                f"defaults.renew_before: {text} is shorter than PT5M; renewals need at least "
                "five minutes of lead time",
                path,
            )
            return None
        return delta
    return None
