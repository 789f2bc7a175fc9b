"""Cron schedules of scheduled jobs: what is accepted, when it runs, and how each mistake is explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from policy.aca_facts.cron import CronError, parse_cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def runs(expression: str, after: str, count: int = 3) -> list[str]:
    found = parse_cron(expression).next_runs(at(after), count)
    assert all(run.tzinfo is UTC and run.second == run.microsecond == 0 for run in found)
    return [run.strftime("%Y-%m-%d %a %H:%M") for run in found]


def test_daily_at_two() -> None:
    assert parse_cron("0 2 * * *").next_runs(at("2026-11-21T10:00")) == [
        at("2026-11-22T02:00"),
        at("2026-11-23T02:00"),
        at("2026-11-24T02:00"),
    ]


def test_quarter_hours_in_office_hours_on_weekdays() -> None:
    # 2026-11-20 is a Friday: after its last run (17:45) come Monday's.
    assert runs("*/15 9-17 * * MON-FRI", "2026-11-20T17:40") == [
        "2026-11-20 Fri 17:45",
        "2026-11-23 Mon 09:00",
        "2026-11-23 Mon 09:15",
    ]


def test_restricted_day_fields_run_on_either() -> None:
    # 13th OR Fridays: Fri 2026-11-20, Fri 11-27, Sun 12-13 is the 13th but Fri 12-04 and 12-11 come first.
    assert runs("0 0 13 * 5", "2026-11-14T00:00", 4) == [
        "2026-11-20 Fri 00:00",
        "2026-11-27 Fri 00:00",
        "2026-12-04 Fri 00:00",
        "2026-12-11 Fri 00:00",
    ]
    assert runs("0 0 13 * 5", "2026-12-11T00:00", 1) == ["2026-12-13 Sun 00:00"]


def test_a_star_day_field_means_both_must_match() -> None:
    # `*/2` day of month with `*` day of week: odd days only (either-rule would run every day).
    assert runs("0 0 */2 * *", "2026-11-20T12:00") == [
        "2026-11-21 Sat 00:00",
        "2026-11-23 Mon 00:00",
        "2026-11-25 Wed 00:00",
    ]
    # `*` day of month with Monday: Mondays only.
    assert runs("30 6 * * mon", "2026-11-20T00:00", 2) == ["2026-11-23 Mon 06:30", "2026-11-30 Mon 06:30"]


def test_month_and_day_names() -> None:
    assert runs("0 12 1 jan,JUL *", "2026-03-01T00:00", 2) == ["2026-07-01 Wed 12:00", "2027-01-01 Fri 12:00"]
    assert runs("0 8 * DEC SAT,sun", "2026-11-30T00:00", 2) == ["2026-12-05 Sat 08:00", "2026-12-06 Sun 08:00"]
    assert runs("0 0 * * 5/1", "2026-11-20T00:00", 2) == ["2026-11-21 Sat 00:00", "2026-11-27 Fri 00:00"]


def test_leap_day_skips_2100() -> None:
    assert runs("0 0 29 2 *", "2026-11-21T00:00") == [
        "2028-02-29 Tue 00:00",
        "2032-02-29 Sun 00:00",
        "2036-02-29 Fri 00:00",
    ]
    assert runs("0 0 29 2 *", "2096-03-01T00:00", 2) == ["2104-02-29 Fri 00:00", "2108-02-29 Wed 00:00"]
    # Feb 29 OR Mondays, in February only.
    assert runs("0 0 29 2 1", "2028-02-26T00:00") == [
        "2028-02-28 Mon 00:00",
        "2028-02-29 Tue 00:00",
        "2029-02-05 Mon 00:00",
    ]


def test_after_in_another_time_zone_and_exactly_on_a_run() -> None:
    tokyo = timezone(timedelta(hours=9))
    # 2026-11-22 10:30 in Tokyo is 01:30 UTC, before that day's 02:00 run.
    assert parse_cron("0 2 * * *").next_runs(datetime(2026, 11, 22, 10, 30, tzinfo=tokyo), 1) == [
        at("2026-11-22T02:00")
    ]
    assert runs("0 2 * * *", "2026-11-22T02:00", 1) == ["2026-11-23 Mon 02:00"]
    assert runs("*/5 * * * *", "2026-11-22T02:00:59.5", 1) == ["2026-11-22 Sun 02:05"]
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("0 2 * * *").next_runs(datetime(2026, 11, 22))


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("*/5 * * * *", timedelta(minutes=5)),
        ("0 2 * * *", timedelta(days=1)),
        ("0 9,17 * * *", timedelta(hours=8)),
        ("0 0 * * 0", timedelta(days=7)),
        ("0 23 * * *", timedelta(days=1)),
        ("30 0,23 * * *", timedelta(hours=1)),  # 23:30 then 00:30 the next day
        ("0 0 1 * *", timedelta(days=28)),  # Feb 1 -> Mar 1
        ("0 0 29 2 *", timedelta(days=1461)),
        ("0 0 31 * *", timedelta(days=31)),  # Jul 31 -> Aug 31, Dec 31 -> Jan 31
        ("0 0 13 * 5", timedelta(days=1)),  # Thursday the 13th, then Friday
        ("* * * * *", timedelta(minutes=1)),
        ("0 0 * * 1-5", timedelta(days=1)),
    ],
)
def test_shortest_interval(expression: str, interval: timedelta) -> None:
    assert parse_cron(expression).shortest_interval() == interval


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 */2 * * *", "0 0 * * *", "0 0 * * 0", "0 0 1 * *"])
def test_examples_from_the_azure_docs(expression: str) -> None:
    schedule = parse_cron(f"  {expression}\t")
    assert schedule.expression == expression
    assert len(schedule.next_runs(at("2026-01-01T00:00"))) == 3


def test_parsed_fields() -> None:
    schedule = parse_cron("5,10-20/5 */6 1 JAN-MAR/2 MON-FRI")
    assert schedule.minutes == {5, 10, 15, 20}
    assert schedule.hours == {0, 6, 12, 18}
    assert schedule.months == {1, 3}
    assert schedule.days_of_week == {1, 2, 3, 4, 5}
    assert (schedule.dom_star, schedule.dow_star) == (False, False)


def test_worst_cases_complete() -> None:
    for expression in ["* * * * *", "0 0 29 2 *", "0 0 29 2 1", "0-59 0-23 1-31 1-12 0-6", "59 23 31 12 *"]:
        schedule = parse_cron(expression)
        assert len(schedule.next_runs(at("2099-03-01T00:00"))) == 3
        assert schedule.shortest_interval() >= timedelta(minutes=1)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 2 * *", "4 fields given"),
        ("", "0 fields given"),
        ("0 0 2 * * *", "seconds and years fields are not supported"),
        ("@daily", "`@daily` is a descriptor"),
        ("@every 5m", "descriptor"),
        ("TZ=Europe/Paris 0 2 * * *", "Azure evaluates schedules in UTC and has no time zone"),
        ("CRON_TZ=UTC 0 2 * * *", "no time zone"),
        ("0 0 ? * MON", "day of month field `?` is Quartz syntax"),
        ("0 0 L * *", "day of month field `L` is Quartz syntax"),
        ("0 0 15W * *", "day of month field `15W` is Quartz syntax"),
        ("0 0 * * 5#3", "day of week field `5#3` is Quartz syntax"),
        ("0 0 * * 7", "day of week field `7` is out of range 0-6"),
        ("0 0 * * 1-7", "day of week field `1-7`: `7` is out of range 0-6"),
        ("60 * * * *", "minute field `60` is out of range 0-59"),
        ("0 24 * * *", "hour field `24` is out of range 0-23"),
        ("0 0 0 * *", "day of month field `0` is out of range 1-31"),
        ("0 0 1 13 *", "month field `13` is out of range 1-12"),
        ("1,,2 * * * *", "minute field `1,,2` has an empty item"),
        ("0 abc * * *", "hour field `abc` is not a number"),
        ("0 0 * FOO *", "month field `FOO` is not a number"),
        ("0 0 * * MONDAY", "day of week field `MONDAY` is not a number"),
        ("*/0 * * * *", "minute field `*/0` has a step of 0"),
        ("*/x * * * *", "minute field `*/x` has step `x`"),
        ("0 5-2 * * *", "hour field `5-2` is a range that runs backwards"),
        ("0 0 * * FRI-MON", "day of week field `FRI-MON` is a range that runs backwards (5 is after 1)"),
        ("0 1-2-3 * * *", "hour field `1-2-3` has more than one `-`"),
        ("0 -1 * * *", "hour field `-1`: `` is not a number"),
        ("0 0 30 2 *", "day of month field `30` never occurs in month field `2`"),
        ("0 0 31 4,6,9,11 *", "so the schedule never runs"),
        ("0 0 */2 * 5", "day of month field `*/2` with day of week `5`"),
        ("0 0 1 * 1,*", "day of week field `1,*` with day of month `1`"),
    ],
)
def test_rejections_name_the_field_and_say_how_to_fix(expression: str, problem: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert problem in caught.value.problem
    assert caught.value.fix
    assert caught.value.problem in str(caught.value)


def test_fixes_say_what_to_write() -> None:
    def fix(expression: str) -> str:
        with pytest.raises(CronError) as caught:
            parse_cron(expression)
        return caught.value.fix

    assert "`0 0 * * *`" in fix("@daily")
    assert "convert the time to UTC" in fix("TZ=Asia/Tokyo 0 9 * * *")
    assert "0 for Sunday" in fix("0 0 * * 7")
    assert fix("60 * * * *") == "use a minute from 0 to 59"
    assert "`20-23,0-2`" in fix("0 20-2 * * *")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Python upper-cases U+017F (long s) to `S`: "\u017fun" read as SUN before the ASCII rule.
        ("0 2 * * \u017fun", "non-ASCII character `\u017f`"),
        ("0 2 * * mon\u00a0", "non-ASCII"),
        # Thousands of digits: Python's int-limit ValueError before, a range message now.
        ("0 " + "9" * 5000 + " * * *", "is out of range 0-23"),
        ("*/" + "1" * 5000 + " * * * *", "step larger than the field's range"),
        ("*/60 * * * *", "step larger than the field's range 0-59"),
    ],
)
def test_input_edges_are_messages(expression: str, expected: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert expected in str(caught.value)
    assert len(str(caught.value)) < 400  # the field is shown cut, not in its thousands of characters
