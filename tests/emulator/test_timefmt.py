"""The emulator's own instant parser (`timefmt.parse_instant_text` / `parse_time`), read from
Graph's wire facts: UTC with seven fractional digits and `Z`, offsets `+hh:mm`, no zone refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from reconciler.emulator.timefmt import format_time, parse_instant_text, parse_time


def test_seven_digit_fraction_truncates_to_microseconds() -> None:
    got = parse_instant_text("2025-01-10T09:00:02.7654329Z")
    assert got == datetime(2025, 1, 10, 9, 0, 2, 765432, tzinfo=UTC)  # dropped, not rounded
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("2025-01-10T09:00:02Z", 0),
        ("2025-01-10T09:00:02.5Z", 500000),
        ("2025-01-10T09:00:02.123Z", 123000),
        ("2025-01-10T09:00:02.123456Z", 123456),
        ("2025-01-10T09:00:02.123456789012Z", 123456),
        ("2025-01-10t09:00:02.1z", 100000),
    ],
)
def test_any_fraction_length(text: str, micro: int) -> None:
    assert parse_instant_text(text) == datetime(2025, 1, 10, 9, 0, 2, micro, tzinfo=UTC)


def test_round_trip_of_graphs_own_format() -> None:
    when = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert format_time(when) == "2026-12-01T12:00:00.1234560Z"
    assert parse_instant_text(format_time(when)) == when


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-01-10T11:00:00+02:00", datetime(2025, 1, 10, 9, tzinfo=UTC)),
        ("2025-01-10T04:30:00-04:30", datetime(2025, 1, 10, 9, tzinfo=UTC)),
        ("2025-01-10T09:00:00+00:00", datetime(2025, 1, 10, 9, tzinfo=UTC)),
        ("2025-01-01T01:00:00.1234567+05:00", datetime(2024, 12, 31, 20, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_offsets_are_converted_to_utc(text: str, utc: datetime) -> None:
    got = parse_instant_text(text)
    assert got == utc
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["2025-01-10T09:00:00", "2025-01-10T09:00:00.1234567", " 2025-01-10T09:00:00 "]
)
def test_no_zone_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant_text(text)
    with pytest.raises(ValueError, match="no time zone"):
        parse_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "P30D",
        "2025-01-10",
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-01-10T25:00:00Z",
        "2025-01-10T09:60:00Z",
        "2025-01-10T09:00:00.Z",
        "2025-01-10T09:00:00+2:00",
        "2025-01-10T09:00:00+24:00",
        "2025-01-10T09:00:00+01:75",
        "2025-01-10T09:00:00ZZ",
        "2025-01-10T09:00:00Z trailing",
        "２０２５-01-10T09:00:00Z",  # non-ASCII digits
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    ],
)
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant_text(text)


def test_parse_time_takes_datetimes_and_refuses_other_types() -> None:
    naive = datetime(2025, 1, 10, 9)
    assert parse_time(naive) == datetime(2025, 1, 10, 9, tzinfo=UTC)  # PyYAML's unzoned read
    plus_two = datetime(2025, 1, 10, 11, tzinfo=timezone(timedelta(hours=2)))
    assert parse_time(plus_two) == datetime(2025, 1, 10, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_time(20250110)  # type: ignore[arg-type]
