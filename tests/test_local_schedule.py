"""Schedules in local time (components/local_schedule.py): the UTC expression for the offset in force at a given
now, what one five-field expression cannot say, offset changes, and zones read from the pinned tzdata package."""

from __future__ import annotations

import itertools
import random
import shutil
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tzdata

from components.local_schedule import (
    HORIZON,
    Refusal,
    UtcSchedule,
    ZoneError,
    load_zone,
    offset_changes,
    to_utc,
)
from policy.aca_facts.cron import parse_cron

JANUARY = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
JULY = datetime(2027, 7, 15, 12, 0, tzinfo=UTC)


def converted(expression: str, zone: str, now: datetime = JANUARY) -> str:
    result = to_utc(expression, load_zone(zone), now)
    assert isinstance(result, UtcSchedule), result
    return result.expression


def refused(expression: str, zone: str, now: datetime = JANUARY) -> Refusal:
    result = to_utc(expression, load_zone(zone), now)
    assert isinstance(result, Refusal), f"{expression} in {zone} converted to {result}"
    return result


# --- conversions ------------------------------------------------------------------------------------------


def test_monday_0230_in_seoul_is_sunday_1730_utc() -> None:
    assert converted("30 2 * * 1", "Asia/Seoul") == "30 17 * * 0"


@pytest.mark.parametrize(("now", "expected"), [(JANUARY, "30 7 * * 1"), (JULY, "30 6 * * 1")])
def test_new_york_converts_with_the_offset_in_force_now(now: datetime, expected: str) -> None:
    # EST (-05:00) in January, EDT (-04:00) in July.
    assert converted("30 2 * * 1", "America/New_York", now) == expected


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    [
        ("0 9 * * *", "Asia/Kolkata", "30 3 * * *"),  # +05:30
        ("15 6 * * *", "Asia/Kathmandu", "30 0 * * *"),  # +05:45
        ("0 5 * * 1", "Asia/Kathmandu", "15 23 * * 0"),  # across midnight, backwards
        ("0 3 * * 0", "Asia/Seoul", "0 18 * * 6"),  # Sunday becomes Saturday
        ("30 22 * * 1-5", "America/New_York", "30 3 * * 2-6"),  # across midnight, forwards (EST)
        ("0 20 * * 6", "America/Los_Angeles", "0 4 * * 0"),  # Saturday becomes Sunday
        ("30 0,12 * * *", "Asia/Seoul", "30 3,15 * * *"),  # some runs cross midnight: every day, so no matter
        ("*/15 9 * * MON-FRI", "Asia/Seoul", "*/15 0 * * MON-FRI"),  # fields that do not move stay as written
        ("0 10 1,15 * *", "Asia/Seoul", "0 1 1,15 * *"),  # day of month, no midnight crossed
        ("0 9-17 * * *", "Asia/Kolkata", "30 3-11 * * *"),
        ("45 23 * JAN *", "UTC", "45 23 * JAN *"),
    ],
)
def test_conversions(expression: str, zone: str, expected: str) -> None:
    assert converted(expression, zone) == expected


# Fixed offsets, so the check needs no zone: whole hours both ways, half and three-quarter hours, and the extremes.
OFFSETS = [timedelta(hours=h, minutes=m) for h, m in [(9, 0), (-5, 0), (5, 30), (5, 45), (-9, -30), (13, 0), (-11, 0)]]
FIELDS = [
    ["0", "30", "*/15", "5,35", "45"],
    ["*", "9", "0", "23", "9-17", "0,12", "*/6", "22"],
    ["*", "1", "15", "*/2", "28-31"],
    ["*", "6", "JAN,JUL"],
    ["*", "1", "1-5", "0", "6"],
]


def local_runs_in_utc(expression: str, offset: timedelta, after: datetime, count: int) -> list[datetime]:
    """Reference: the local schedule's runs on the wall clock (computed as if it were UTC), moved by the offset."""
    wall = parse_cron(expression).next_runs(after + offset, count)
    return [run - offset for run in wall]


def test_every_accepted_conversion_runs_exactly_when_the_local_schedule_does() -> None:
    generator = random.Random(19)
    combinations = list(itertools.product(*FIELDS))
    accepted = refusals = 0
    for fields in generator.sample(combinations, 300):
        expression = " ".join(fields)
        try:
            parse_cron(expression)
        except ValueError:
            continue  # e.g. `*/2` in day of month with a restricted day of week: refused by the parser already
        offset = generator.choice(OFFSETS)
        result = to_utc(expression, timezone(offset), JANUARY)
        if isinstance(result, Refusal):
            refusals += 1
            continue
        accepted += 1
        utc = parse_cron(result.expression)
        for after in (JANUARY, datetime(2028, 2, 27, 20, 0, tzinfo=UTC)):
            assert utc.next_runs(after, 40) == local_runs_in_utc(expression, offset, after, 40), (
                f"{expression} at {offset} -> {result.expression}"
            )
    assert accepted >= 100 and refusals >= 50, (accepted, refusals)  # both paths were exercised


# --- refusals -----------------------------------------------------------------------------------------------


def test_times_that_are_no_product_of_hours_and_minutes_in_utc_are_refused() -> None:
    refusal = refused("0,30 9 * * *", "Asia/Kolkata")
    assert "09:00 -> 03:30, 09:30 -> 04:00 UTC" in refusal.problem
    assert "no single five-field UTC expression" in refusal.problem
    assert "`0,30 3,4 * * *`" in refusal.fix and "also runs at 03:00, 04:30 UTC" in refusal.fix


def test_a_day_of_month_moved_across_midnight_is_refused_with_a_utc_alternative() -> None:
    refusal = refused("30 1 1 * *", "Asia/Seoul")
    assert "01:30 -> 16:30 UTC on the previous day" in refusal.problem
    assert "day-of-month and month fields `1 *`" in refusal.problem
    assert "from 09:00 to 23:59" in refusal.fix  # local times that stay on the same day in UTC
    assert "`30 16 1 * *`" in refusal.fix and "01:30 on the next day in Asia/Seoul" in refusal.fix


def test_a_month_moved_across_midnight_is_refused() -> None:
    # Midnight-thirty on June 1 in Seoul is May 31 in UTC: "June" does not move by a day.
    assert "`* 6`" in refused("30 0 * 6 *", "Asia/Seoul").problem


def test_a_day_of_month_moved_forwards_is_refused() -> None:
    refusal = refused("0 22 15 * *", "America/New_York")
    assert "03:00 UTC on the next day" in refusal.problem
    assert "from 00:00 to 18:59" in refusal.fix  # EST and EDT: 19:00 EST is midnight UTC


def test_restricted_days_with_only_some_runs_crossing_midnight_are_refused() -> None:
    refusal = refused("30 0,12 * * 1", "Asia/Seoul")
    assert "some runs cross midnight into another UTC day and others do not" in refusal.problem


def test_a_schedule_that_converts_now_but_not_after_the_next_offset_change_is_refused_now() -> None:
    # 00:30 on the 1st in London is 00:30 UTC in winter but 23:30 on the last day of the month in summer (BST).
    refusal = refused("30 0 1 * *", "Europe/London", JANUARY)
    assert "at UTC offset +01:00 (in force from 2027-03-28T01:00Z)" in refusal.problem
    assert "from 01:00 to 23:59" in refusal.fix


# --- offset changes -----------------------------------------------------------------------------------------


def test_offset_changes_are_found_to_the_second_and_carry_the_new_expression() -> None:
    result = to_utc("30 2 * * 1", load_zone("America/New_York"), JANUARY)
    assert isinstance(result, UtcSchedule)
    assert [(c.at, c.offset, c.expression) for c in result.changes] == [
        (datetime(2027, 3, 14, 7, 0, tzinfo=UTC), timedelta(hours=-4), "30 6 * * 1"),
        (datetime(2027, 11, 7, 6, 0, tzinfo=UTC), timedelta(hours=-5), "30 7 * * 1"),
    ]  # 2028-03-12 is beyond the 400 days looked at
    assert result.next_change == result.changes[0]


def test_the_scan_is_bounded_and_zones_without_changes_have_none() -> None:
    assert offset_changes(load_zone("Asia/Seoul"), JANUARY) == []
    assert offset_changes(load_zone("Asia/Kolkata"), JANUARY) == []
    changes = offset_changes(load_zone("Europe/Berlin"), JANUARY)
    assert changes and all(JANUARY < change.at <= JANUARY + HORIZON for change in changes)
    # Lord Howe Island moves by half an hour.
    [first, *_] = offset_changes(load_zone("Australia/Lord_Howe"), JULY)
    assert first.offset == timedelta(hours=11)


# --- zones --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        ("Asia/Seol", "did you mean `Asia/Seoul`?"),
        ("asia/seoul", "write `Asia/Seoul` (zone names are case-sensitive)"),
        ("KST", "use an Area/Location name"),
        ("../../etc/passwd", "use an Area/Location name"),
        ("", "use an Area/Location name"),
    ],
)
def test_an_unknown_zone_is_refused_with_the_nearest_names(key: str, fix: str) -> None:
    with pytest.raises(ZoneError) as raised:
        load_zone(key)
    assert raised.value.problem == f"`{key}` is not an IANA time zone in tzdata"
    assert fix in raised.value.fix


def test_zones_come_from_the_pinned_tzdata_package_not_the_machines_database(tmp_path: Path) -> None:
    # A machine whose own database says Seoul is UTC (a stale or broken copy): ZoneInfo reads it first, the
    # program does not.
    (tmp_path / "Asia").mkdir()
    shutil.copy(Path(tzdata.__file__).parent / "zoneinfo" / "UTC", tmp_path / "Asia" / "Seoul")
    zoneinfo.reset_tzpath(to=[str(tmp_path)])
    try:
        assert zoneinfo.ZoneInfo.no_cache("Asia/Seoul").utcoffset(JANUARY) == timedelta(0)
        # `__wrapped__`: the loader without its cache, so the zone is read again here.
        assert load_zone.__wrapped__("Asia/Seoul").utcoffset(JANUARY) == timedelta(hours=9)
    finally:
        zoneinfo.reset_tzpath()
