"""ISO 8601 durations and UTC instants, as PIM accepts them.

PIM takes durations in days, hours, minutes and seconds only (`P180D`, `PT8H`, `P1DT12H`).
Years, months and weeks are refused here: Graph answers `InvalidRoleAssignmentRequest` to
`P6M` (terraform-provider-azuread#1464), and one popular client reads `P6M` as six minutes.
Source: graph-pim-reference.md section 3.1 and 6.3.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?!$)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)

MINIMUM_ASSIGNMENT = timedelta(minutes=5)
"""PIM's floor for an assignment's lifetime and for the age of one before removal or change."""


MAXIMUM_DAYS = 36_500
"""Durations beyond a hundred years are refused as input mistakes (and would overflow dates)."""


class DurationError(ValueError):
    """A duration PIM cannot take. `unsupported_unit` is True for years / months / weeks."""

    def __init__(self, message: str, *, unsupported_unit: bool = False) -> None:
        super().__init__(message)
        self.unsupported_unit = unsupported_unit


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration of days, hours, minutes and seconds into a `timedelta`.

    Raises `DurationError` for malformed text, and with `unsupported_unit=True` for years,
    months or weeks (with a hint to use days).
    """
    if not isinstance(text, str):
        raise DurationError(f"expected an ISO 8601 duration string such as P30D, got {text!r}")
    match = _DURATION.match(text.strip().upper())
    if match is None:
        raise DurationError(
            f"{text!r} is not an ISO 8601 duration; write days, hours, minutes or seconds, "
            "e.g. P180D, PT8H or P1DT12H"
        )
    parts = match.groupdict()
    if parts["years"] or parts["months"] or parts["weeks"]:
        days_hint = int(parts["years"] or 0) * 365 + int(parts["months"] or 0) * 30 + int(
            parts["weeks"] or 0
        ) * 7
        raise DurationError(
            f"{text!r} uses years, months or weeks, which PIM does not accept; "
            f"use days, e.g. P{days_hint or 180}D",
            unsupported_unit=True,
        )
    total = (int(parts["days"] or 0) * 86400 + int(parts["hours"] or 0) * 3600
             + int(parts["minutes"] or 0) * 60 + float(parts["seconds"] or 0))
    if total > MAXIMUM_DAYS * 86400:
        raise DurationError(
            f"{text!r} is longer than {MAXIMUM_DAYS} days; PIM policies cap assignments far "
            "below that (eligible P365D, active P180D by default)"
        )
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Format a non-negative `timedelta` as ISO 8601 with days/hours/minutes/seconds (`P1DT2H`)."""
    total = int(delta.total_seconds())
    if total < 0:
        raise ValueError("negative duration")
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P"
    if days:
        out += f"{days}D"
    if hours or minutes or seconds or not days:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if seconds or (not hours and not minutes):
            out += f"{seconds}S"
    return out


def parse_instant(value: str | datetime) -> datetime:
    """Parse an ISO 8601 instant (any offset; Graph's seven-digit fractions allowed) to aware UTC.

    A naive value is refused: desired state must say which zone it means.
    Raises `ValueError`.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        m = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", text)
        if m:  # Python accepts at most 6 fractional digits
            text = f"{m.group(1)}.{m.group(2)[:6].ljust(6, '0')}{m.group(3)}"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"{value!s} has no time zone; write it in UTC, e.g. 2027-06-30T00:00:00Z")
    return dt.astimezone(UTC)


def format_instant(dt: datetime) -> str:
    """Format an aware datetime as UTC `YYYY-MM-DDTHH:MM:SSZ` (fractions kept only if present)."""
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_shown_instant(dt: datetime) -> str:
    """An instant as people read it in plans and reports: UTC, whole seconds (truncated), `Z`.
    Wire formats keep `format_instant`."""
    return format_instant(dt.replace(microsecond=0))


def relative(when: datetime, now: datetime) -> str:
    """"in 3 days", "in 2 hours", "5 minutes ago": the largest unit, rounded to nearest."""
    seconds = (when - now).total_seconds()
    future = seconds >= 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "now"
