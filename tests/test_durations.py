"""ISO 8601 durations and instants as PIM takes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.durations import (
    DurationError,
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
    relative,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("P180D", timedelta(days=180)), ("PT8H", timedelta(hours=8)),
    ("P1DT12H", timedelta(days=1, hours=12)), ("PT5M", timedelta(minutes=5)),
    ("PT0.5S", timedelta(seconds=0.5)), ("p30d", timedelta(days=30)),
])
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P6M", "P1Y", "P2W", "P1Y2M"])
def test_years_months_weeks_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert caught.value.unsupported_unit and "use days" in str(caught.value)


@pytest.mark.parametrize("text", ["P", "PT", "90 days, 0:00:00", "P1.5D", "", "D30P"])
def test_malformed(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert not caught.value.unsupported_unit


@pytest.mark.parametrize("text", ["P36501D", "P99999999999D", "PT99999999999H"])
def test_absurd_lengths_are_refused_not_overflowed(text: str) -> None:
    with pytest.raises(DurationError, match="longer than 36500 days"):
        parse_duration(text)


def test_format_round_trips() -> None:
    for text in ("P180D", "PT8H", "P1DT12H", "PT5M", "PT0S"):
        assert format_duration(parse_duration(text)) == text


def test_instants_compare_as_instants() -> None:
    assert parse_instant("2030-01-01T09:00:00+01:00") == parse_instant(
        "2030-01-01T08:00:00.0000000Z")
    assert format_instant(parse_instant("2030-06-30T00:00:00.0000000Z")) == "2030-06-30T00:00:00Z"
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant("2030-01-01T00:00:00")


def test_relative_rounds_to_the_nearest_unit() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert relative(now + timedelta(days=9, hours=23, minutes=55), now) == "in 10 days"
    assert relative(now - timedelta(minutes=5), now) == "5 minutes ago"
    assert relative(now + timedelta(seconds=20), now) == "now"
