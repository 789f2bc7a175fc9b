"""Cron schedules of scheduled Container Apps jobs: conservative validation and offline run times.

A scheduled job's `scheduleTriggerConfig.cronExpression` takes "the standard cron expression format with five
fields for minute, hour, day of month, month, and day of week", "evaluated in Universal Time Coordinated (UTC)"
(Microsoft Learn, `articles/container-apps/jobs.md`, section "Scheduled jobs"). There is no time-zone field
(microsoft/azure-container-apps issue 1109). Jobs run on Kubernetes, whose CronJob schedule parser is
robfig/cron v3 `ParseStandard`.

So `parse_cron` accepts only what both standard (Vixie) cron and robfig/cron accept, and rejects the rest with a
`CronError` that says what is wrong and what to write instead:

- no `@daily`-style descriptors, no `TZ=`/`CRON_TZ=` prefix, no seconds or years field;
- no Quartz syntax (`?`, `L`, `W`, `#`), no day of week `7` (robfig/cron accepts only 0-6), no empty list items;
- no day fields whose meaning differs between the two: Vixie cron treats a day field as unrestricted when its
  text *starts with* `*` (`entry.c`: `if (ch == '*') e->flags |= DOM_STAR;`), robfig/cron when one of its items
  is `*` with a step of 1 (`parser.go` `getRange`: a step above 1 clears `starBit`). `0 0 */2 * 5` is "odd days
  that are Fridays" to the first and "odd days or Fridays" to the second;
- no schedule that can never run (`0 0 30 2 *`).

Day matching follows Vixie cron and robfig/cron (`spec.go` `dayMatches`): if the day-of-month or the day-of-week
field starts with `*`, a day runs when both match; otherwise when either matches. Run times are computed in UTC,
a day at a time over matching days, never a minute at a time.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

__all__ = ["CronError", "CronSchedule", "parse_cron"]

_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES = ({}, {}, {}, {n: i + 1 for i, n in enumerate(_MONTH_NAMES)}, {n: i for i, n in enumerate(_DAY_NAMES)})
_RANGE_HINT = ("0-59", "0-23", "1-31", "1-12 or JAN-DEC", "0-6 or SUN-SAT (0 is Sunday)")
_FIVE_FIELDS = "minute hour day-of-month month day-of-week"
_NUMBER = re.compile(r"[0-9]+")
_QUARTZ_ITEM = re.compile(r"[0-9]*L|L-[0-9]+|[0-9]+W|LW", re.IGNORECASE)
_DAYS_PER_CYCLE = 146097  # the Gregorian calendar repeats every 400 years, which is a whole number of weeks
_CYCLE_START = 2000
# Longest gap between two matching days of any accepted schedule: Feb 29 across a non-leap century year.
_MAX_GAP_DAYS = 8 * 366


class CronError(ValueError):
    """A cron expression Azure would reject or that would not do what it says. `problem` names the field."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}. Fix: {fix}.")
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class CronSchedule:
    """A validated five-field schedule, evaluated in UTC. Days of week: 0 is Sunday."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_star: bool
    dow_star: bool

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days_of_month, day.isoweekday() % 7 in self.days_of_week
        return (dom and dow) if self.dom_star or self.dow_star else (dom or dow)

    def next_runs(self, after: datetime, count: int = 3) -> list[datetime]:
        """The next `count` run times strictly after `after` (timezone-aware), in UTC, on whole minutes."""
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("`after` must be a timezone-aware datetime, e.g. datetime(..., tzinfo=UTC)")
        if count < 0:
            raise ValueError(f"`count` must be 0 or more, got {count}")
        times = _times_of_day(self.hours, self.minutes)
        start = after.astimezone(UTC)
        day, threshold = start.date(), start.hour * 60 + start.minute  # a run must be later than this minute
        runs: list[datetime] = []
        idle_days = 0
        try:
            while len(runs) < count:
                if idle_days > _MAX_GAP_DAYS:
                    raise CronError(
                        f"schedule `{self.expression}` has no run within 8 years after {start.isoformat()}",
                        "use a schedule that runs at least once every 8 years",
                    )
                if day.month not in self.months:  # skip the rest of the month
                    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
                    idle_days += (following - day).days
                    day, threshold = following, -1
                    continue
                if self._day_matches(day):
                    for minute_of_day in times:
                        if minute_of_day > threshold:
                            hour, minute = divmod(minute_of_day, 60)
                            runs.append(datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC))
                            idle_days = 0
                            if len(runs) == count:
                                break
                day, threshold = day + timedelta(days=1), -1
                idle_days += 1
        except OverflowError:
            raise CronError(
                f"schedule `{self.expression}` has no further run before the end of year 9999",
                "pass an earlier `after`",
            ) from None
        return runs

    def shortest_interval(self) -> timedelta:
        """The smallest gap between two consecutive runs, over the whole (400-year) Gregorian cycle."""
        times = _times_of_day(self.hours, self.minutes)
        gap_days = _day_analysis(self.months, self.days_of_month, self.days_of_week, self.dom_star or self.dow_star)
        shortest = gap_days * 1440 - (times[-1] - times[0])
        for earlier, later in itertools.pairwise(times):
            shortest = min(shortest, later - earlier)
        return timedelta(minutes=shortest)


@lru_cache(maxsize=256)
def _times_of_day(hours: frozenset[int], minutes: frozenset[int]) -> tuple[int, ...]:
    return tuple(sorted(h * 60 + m for h in hours for m in minutes))


@lru_cache(maxsize=256)
def _day_analysis(months: frozenset[int], doms: frozenset[int], dows: frozenset[int], both: bool) -> int:
    """The fewest days between two consecutive matching days, or 0 if no day ever matches.

    A year's matching days depend only on whether it is a leap year and on the weekday of January 1: 14 kinds,
    each scanned once. The 400 years of the cycle (plus the first year of the next cycle, for the wrap-around)
    are then walked year by year.
    """
    kinds: dict[tuple[bool, int], tuple[int, int, int] | None] = {}  # (first, last, fewest days between) of a year
    for leap in (False, True):
        lengths = [calendar.mdays[m] + (1 if leap and m == 2 else 0) for m in range(1, 13)]
        for jan1 in range(7):
            found: list[int] = []
            day_of_year = 0
            for month, length in enumerate(lengths, start=1):
                if month not in months:
                    day_of_year += length
                    continue
                for dom in range(1, length + 1):
                    dom_ok, dow_ok = dom in doms, (jan1 + day_of_year) % 7 in dows
                    if (dom_ok and dow_ok) if both else (dom_ok or dow_ok):
                        found.append(day_of_year)
                    day_of_year += 1
            if not found:
                kinds[leap, jan1] = None
            else:
                fewest = min((b - a for a, b in itertools.pairwise(found)), default=_DAYS_PER_CYCLE)
                kinds[leap, jan1] = (found[0], found[-1], fewest)
    if not any(kinds.values()):
        return 0
    fewest, previous_last = _DAYS_PER_CYCLE, None
    for year in range(_CYCLE_START, _CYCLE_START + 401):
        jan1 = date(year, 1, 1)
        kind = kinds[calendar.isleap(year), jan1.isoweekday() % 7]
        if kind is None:
            continue
        first, last, within = kind
        fewest = min(fewest, within)
        if previous_last is not None:
            fewest = min(fewest, jan1.toordinal() + first - previous_last)
        previous_last = jan1.toordinal() + last
    return fewest


def _shown(text: str) -> str:
    """`text` for a message: a field of thousands of characters is cut, so that the message stays readable."""
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _where(index: int, field: str, text: str) -> str:
    name = _FIELDS[index]
    field, text = _shown(field), _shown(text)
    return f"{name} field `{field}`" if text == field else f"{name} field `{field}`: `{text}`"


def _span(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def _value(index: int, field: str, text: str) -> int:
    low, high = _BOUNDS[index]
    if _NUMBER.fullmatch(text):
        value = _small_int(text, high)
    elif text.upper() in _NAMES[index]:
        return _NAMES[index][text.upper()]
    else:
        fix = f"use a {_FIELDS[index]} from {_RANGE_HINT[index]}"
        raise CronError(f"{_where(index, field, text)} is not a number", fix)
    if index == 4 and value == 7:
        raise CronError(
            f"{_where(index, field, text)} is out of range 0-6 (robfig/cron, which Kubernetes uses, rejects 7)",
            "use 0 for Sunday",
        )
    if not low <= value <= high:
        raise CronError(
            f"{_where(index, field, text)} is out of range {low}-{high}", f"use a {_FIELDS[index]} from {low} to {high}"
        )
    return value


def _small_int(digits: str, high: int) -> int:
    """The number ASCII `digits` spell, or `high + 1` when it has more digits than any field takes: Python refuses to
    read numbers of thousands of digits (`int` max str digits) and no field goes beyond 59."""
    significant = digits.lstrip("0")
    return int(digits) if len(significant) <= 4 else high + 1


def _item(index: int, field: str, item: str) -> set[int]:
    name = _FIELDS[index]
    low, high = _BOUNDS[index]
    if not item:
        raise CronError(f"{name} field `{field}` has an empty item", "remove the extra comma")
    if "?" in item or "#" in item or _QUARTZ_ITEM.fullmatch(item):
        raise CronError(
            f"{_where(index, field, item)} is Quartz syntax (`?`, `L`, `W`, `#`), not standard cron",
            f"write the {name} as numbers, ranges (`A-B`), lists (`A,B`) and steps (`*/S`), or `*`",
        )
    range_text, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(step_text):
            raise CronError(
                f"{_where(index, field, item)} has step `{step_text}`, which is not a number",
                "write the step as a whole number, e.g. `*/5`",
            )
        step = _small_int(step_text, high)
        if step == 0:
            raise CronError(f"{_where(index, field, item)} has a step of 0", "use a step of 1 or more, e.g. `*/5`")
        if step > high:
            raise CronError(
                f"{_where(index, field, item)} has a step larger than the field's range {low}-{high}",
                f"use a step from 1 to {high}",
            )
    if range_text == "*":
        start, end = low, high
    else:
        low_text, dash, high_text = range_text.partition("-")
        if "-" in high_text:
            raise CronError(f"{_where(index, field, item)} has more than one `-`", "write a range as `A-B`")
        start = _value(index, field, low_text)
        end = _value(index, field, high_text) if dash else (high if slash else start)  # `N/S` runs N to the max
        if start > end:
            raise CronError(
                f"{_where(index, field, item)} is a range that runs backwards ({start} is after {end})",
                f"write the smaller value first (`{end}-{start}`) or, to wrap around, list both parts "
                f"(`{_span(start, high)},{_span(low, end)}`)",
            )
    return set(range(start, end + 1, step))


def _field(index: int, field: str) -> tuple[frozenset[int], bool]:
    """The field's values, and whether robfig/cron treats it as unrestricted (an item `*` or `*/1`)."""
    values: set[int] = set()
    robfig_star = False
    high = _BOUNDS[index][1]
    for item in field.split(","):
        values |= _item(index, field, item)
        range_text, _, step_text = item.partition("/")
        robfig_star = robfig_star or (range_text == "*" and (not step_text or _small_int(step_text, high) == 1))
    return frozenset(values), robfig_star


def parse_cron(expression: str) -> CronSchedule:
    """Validate a five-field cron expression (see the module docstring). Raises `CronError`."""
    if not isinstance(expression, str):
        raise CronError(
            f"the cron expression must be a string, got {type(expression).__name__}",
            'write the schedule as a quoted string, e.g. "0 2 * * *"',
        )
    if not expression.isascii():
        # Python's case mapping folds some non-ASCII letters into ASCII (U+017F, the long s, upper-cases to `S`), so
        # a long-s `sun` would read as SUN; cron (and Azure) read bytes, and no cron field holds anything but ASCII.
        odd = next(c for c in expression if not c.isascii())
        raise CronError(
            f"`{expression}` holds the non-ASCII character `{odd}` (U+{ord(odd):04X}); cron fields are ASCII only",
            "write numbers, `*`, `,`, `-`, `/` and English month or day names (JAN-DEC, SUN-SAT) in plain ASCII",
        )
    text = expression.strip()
    if text.startswith("@"):
        descriptor = text.split()[0]
        raise CronError(
            f"`{descriptor}` is a descriptor; Azure takes only the five fields {_FIVE_FIELDS}",
            "write the five fields, e.g. `0 0 * * *` for @daily or `0 * * * *` for @hourly",
        )
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        prefix = text.split()[0]
        raise CronError(
            f"`{prefix}` sets a time zone, but Azure evaluates schedules in UTC and has no time zone",
            "remove the prefix and convert the time to UTC",
        )
    fields = re.split(r"[ \t]+", text) if text else []
    if len(fields) != 5:
        problem = (
            f"{len(fields)} field{'' if len(fields) == 1 else 's'} given in `{text}`; Azure takes 5: {_FIVE_FIELDS}"
        )
        if len(fields) in (6, 7):
            problem += " (seconds and years fields are not supported)"
        raise CronError(problem, "write exactly five fields, e.g. `0 2 * * *` for 02:00 UTC every day")
    parsed = [_field(index, field) for index, field in enumerate(fields)]
    (minutes, _), (hours, _), (doms, dom_robfig_star), (months, _), (dows, dow_robfig_star) = parsed
    dom_star, dow_star = fields[2].startswith("*"), fields[4].startswith("*")
    if (dom_star or dow_star) != (dom_robfig_star or dow_robfig_star):
        index = 2 if dom_star != dom_robfig_star else 4
        raise CronError(
            f"{_FIELDS[index]} field `{fields[index]}` with {_FIELDS[6 - index]} `{fields[6 - index]}` means "
            f"{'both must match' if dom_star or dow_star else 'either may match'} in standard cron but "
            f"{'both must match' if dom_robfig_star or dow_robfig_star else 'either may match'} in robfig/cron "
            "(Kubernetes)",
            "to run when either matches, spell the days out without `*` (e.g. `1-31/2` for odd days); "
            "to run only when both match, make the other day field `*`",
        )
    if not _day_analysis(months, doms, dows, dom_star or dow_star):
        raise CronError(
            f"day of month field `{fields[2]}` never occurs in month field `{fields[3]}` (day of week "
            f"`{fields[4]}`), so the schedule never runs",
            "use days that exist in those months: February has 28 days (29 in leap years); April, June, "
            "September and November have 30",
        )
    return CronSchedule(text, minutes, hours, doms, months, dows, dom_star, dow_star)
