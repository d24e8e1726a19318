"""Times and durations as Graph writes and reads them (graph-pim-reference.md 2.1-2.5, 3.1, 6.3).

Graph answers instants in UTC with seven fractional digits (`2025-01-10T09:00:02.7654321Z`);
the emulator reads them with its own parser (no product code), written from those wire facts.
Durations are ISO 8601 `Edm.Duration`; PIM refuses year/month/week designators
(`InvalidRoleAssignmentRequest`, reference 3.1 / TF-1464) and Python's `str(timedelta)`
(`"90 days, 0:00:00"`) is not a duration at all (reference 6.3, 10).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

NEVER_MODIFIED = "0001-01-01T08:00:00Z"
"""What Graph answers in `modifiedDateTime` for a schedule never modified (reference 2.4)."""

_ISO_DURATION = re.compile(
    r"^(?P<sign>[-+])?P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?(?:T(?!$)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)

_INSTANT = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[T ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|(?P<sign>[-+])(?P<zone_hours>\d{2}):(?P<zone_minutes>\d{2}))?",
    flags=re.IGNORECASE | re.ASCII,
)
"""`YYYY-MM-DDTHH:MM[:SS[.fraction]]` then `Z`, `+hh:mm` or `-hh:mm` (or no zone at all)."""


class NotADuration(ValueError):
    """The text is not an ISO 8601 duration (e.g. Python's `"90 days, 0:00:00"`)."""


class UnsupportedDurationUnit(ValueError):
    """An ISO 8601 duration using years, months or weeks, which PIM refuses."""


def format_time(dt: datetime) -> str:
    """Format an aware datetime as Graph does: UTC, seven fractional digits, `Z`."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def format_plain_time(dt: datetime) -> str:
    """Format an aware datetime as `YYYY-MM-DDTHH:MM:SSZ` (fractions only when present)."""
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | datetime, *, naive_utc: bool = False) -> datetime:
    """Parse an instant (string with any offset and up to 7+ fractional digits, or datetime).

    A naive datetime (PyYAML's reading of an unzoned timestamp) is taken as UTC; an unzoned
    string only with `naive_utc` (the `instant_without_zone: utc` variant).
    Raises `ValueError` on malformed text.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a date-time, got {value!r}")
    return parse_instant_text(value, naive_utc=naive_utc)


def parse_instant_text(text: str, *, naive_utc: bool = False) -> datetime:
    """Parse an ISO 8601 instant string as Graph writes it (reference 2.1-2.5) to aware UTC.

    Any number of fractional digits (Graph writes seven; digits beyond microseconds are
    dropped, not rounded); zone `Z` or `+hh:mm` / `-hh:mm`. A string without a zone is refused:
    it does not say which instant it means. Raises `ValueError`.
    """
    match = _INSTANT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    if match["zone"] is None and not naive_utc:
        raise ValueError(f"{text!r} has no time zone; write it in UTC, e.g. 2027-06-30T00:00:00Z")
    zone = UTC
    if match["sign"]:
        hours, minutes = int(match["zone_hours"]), int(match["zone_minutes"])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{text!r} has an impossible UTC offset")
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if match["sign"] == "-" else offset)
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:  # datetime() itself refuses month 13, hour 25 and the like
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            int(fraction),
            tzinfo=zone,
        ).astimezone(UTC)
    except OverflowError as exc:  # an offset pushing year 1 or 9999 out of range
        raise ValueError(f"{text!r} is out of the representable range") from exc
    except ValueError as exc:  # month 13, hour 25, February 30
        raise ValueError(f"{text!r} is not a valid date-time: {exc}") from exc


def parse_duration(text: object, *, signed: bool = False, weeks: bool = False) -> timedelta:
    """Parse an ISO 8601 duration into a `timedelta`.

    Raises `NotADuration` for anything that is not ISO 8601 and `UnsupportedDurationUnit` for
    year/month designators, and for weeks unless `weeks` (the `week_durations: accepted`
    variant). A leading sign is allowed only with `signed=True` (fixtures).
    """
    if not isinstance(text, str):
        raise NotADuration(f"{text!r} is not an ISO 8601 duration")
    match = _ISO_DURATION.match(text.strip().upper())
    if match is None or (match["sign"] and not signed):
        raise NotADuration(f"{text!r} is not an ISO 8601 duration")
    if match["years"] or match["months"] or (match["weeks"] and not weeks):
        raise UnsupportedDurationUnit(f"{text!r} uses years, months or weeks")
    delta = timedelta(
        weeks=int(match["weeks"] or 0),
        days=int(match["days"] or 0),
        hours=int(match["hours"] or 0),
        minutes=int(match["minutes"] or 0),
        seconds=float(match["seconds"] or 0),
    )
    return -delta if match["sign"] == "-" else delta


def looks_like_duration(text: str) -> bool:
    """True when a fixture string is a (signed) relative offset such as `-P20D` or `PT2H`."""
    return bool(re.match(r"^[-+]?P", text.strip(), flags=re.IGNORECASE))


def resolve_fixture_time(value: object, now: datetime) -> datetime | None:
    """Resolve a fixture time: `None`, an absolute instant, or an ISO offset from `now`.

    Raises `ValueError` for anything else.
    """
    if value is None:
        return None
    if isinstance(value, str) and looks_like_duration(value):
        try:
            return now + parse_duration(value, signed=True)
        except (NotADuration, UnsupportedDurationUnit) as exc:
            raise ValueError(f"bad relative time {value!r}: {exc}") from exc
    if isinstance(value, (str, datetime)):
        return parse_time(value)
    raise ValueError(f"expected a time or an ISO 8601 offset, got {value!r}")
