"""Schedules in local time: a scheduled job's cron expression written in an IANA time zone, converted to the
five-field UTC expression Azure runs.

Azure evaluates a job's `cronExpression` in UTC and has no time-zone setting (Microsoft Learn,
`articles/container-apps/jobs.md`, "Scheduled jobs"; microsoft/azure-container-apps issue 1109). So a job with
`timeZone` gets the UTC expression for the UTC offset in force when the program runs (`to_utc`): every local
(hour, minute) moves by the offset and, across midnight, the days of the week move with it. What one five-field
expression cannot say is refused (`Refusal`), with the reason and a UTC alternative:

- the shifted times must be every combination of one set of hours and one set of minutes (a cron expression runs
  every listed minute of every listed hour): `0,30 9 * * *` in Asia/Kolkata (+05:30) is 03:30 and 04:00 UTC, and
  no expression runs at exactly those two;
- when some runs cross midnight and others do not, the days must be unrestricted (every day runs anyway);
- a day-of-month or month restriction cannot cross midnight: "the day before the 1st" is the 28th, 29th, 30th or
  31st, which cron cannot say. Only days of the week move (Monday 02:30 in Seoul is Sunday 17:30 UTC).

The check covers every offset the zone takes within `HORIZON` of now, not only today's: a schedule that converts
today but not after the next daylight-saving change would otherwise be accepted now and refused at the re-apply
that change needs (docs/schedules.md).

Zones are read from the pinned `tzdata` package only, never from the machine's own database: `zoneinfo.ZoneInfo`
searches the system's TZPATH first and falls back to `tzdata` (CPython `Lib/zoneinfo/_zoneinfo.py`,
`ZoneInfo._new_instance`: `_find_tzfile(key)`, then `_common.load_tzdata(key)`), so two machines with different
system data would convert differently. `load_zone` opens the package's file the way `load_tzdata` does and builds
the zone with `ZoneInfo.from_file`. Nothing here is needed by the policy pack, which reviews the UTC expression.
"""

from __future__ import annotations

import difflib
import importlib.resources
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from policy.aca_facts.cron import CronSchedule, parse_cron

__all__ = [
    "HORIZON",
    "OffsetChange",
    "Refusal",
    "UtcSchedule",
    "ZoneError",
    "load_zone",
    "offset_changes",
    "to_utc",
]

# How far ahead offset changes are looked for: past the next change of every zone with daylight saving (they
# change twice a year), bounded so the scan is cheap (six hours at a time: 1,600 look-ups, about a millisecond). No
# zone puts two changes within six hours of each other, so none is stepped over: over 2026-2028 in tzdata 2026.6,
# six-hour steps find exactly what 15-minute steps find in all 598 zones, and the closest two changes are 35 days
# apart (Africa/Casablanca, around Ramadan).
HORIZON = timedelta(days=400)
_STEP = timedelta(hours=6)
_DAY = 1440  # minutes


class ZoneError(ValueError):
    """A time-zone name the pinned time-zone database does not hold."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}. Fix: {fix}.")
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Refusal:
    """A local schedule that one five-field UTC expression cannot run: why, and what to write instead."""

    problem: str
    fix: str


@dataclass(frozen=True)
class OffsetChange:
    """The zone's UTC offset changes at `at` (UTC) to `offset`; from then the schedule's UTC expression is
    `expression` (the same as before when the change moves no run, e.g. an hourly schedule at whole-hour offsets)."""

    at: datetime
    offset: timedelta
    expression: str


@dataclass(frozen=True)
class UtcSchedule:
    """A local schedule converted for the offset in force at `now`, and the offset changes within `HORIZON`."""

    local_expression: str
    zone: tzinfo
    now: datetime
    offset: timedelta
    expression: str  # the five-field UTC expression for `offset`, what Azure runs
    changes: tuple[OffsetChange, ...]

    @property
    def schedule(self) -> CronSchedule:
        return parse_cron(self.expression)

    @property
    def next_change(self) -> OffsetChange | None:
        return self.changes[0] if self.changes else None


# --- zones --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every zone key of the pinned tzdata package (its `zones` file lists them, one a line)."""
    try:
        return frozenset(importlib.resources.files("tzdata").joinpath("zones").read_text().split())
    except ModuleNotFoundError:
        raise ZoneError(
            "the `tzdata` package, which holds the time-zone database, is not installed",
            "run `make setup` (requirements.txt pins tzdata)",
        ) from None


@lru_cache(maxsize=64)
def load_zone(key: str) -> ZoneInfo:
    """The zone `key` (e.g. `Asia/Seoul`) from the pinned tzdata package, or a `ZoneError` with the nearest names."""
    names = zone_names()
    if key not in names:
        raise ZoneError(f"`{key}` is not an IANA time zone in tzdata", _zone_fix(key, names))
    *package, resource = key.split("/")
    path = importlib.resources.files(".".join(["tzdata.zoneinfo", *package])).joinpath(resource)
    with path.open("rb") as data:
        return ZoneInfo.from_file(data, key=key)


def _zone_fix(key: str, names: frozenset[str]) -> str:
    by_case = {name.lower(): name for name in names}
    if key.lower() in by_case:
        return f"write `{by_case[key.lower()]}` (zone names are case-sensitive)"
    # Only names of the Area/Location form get suggestions: an abbreviation (`KST`) is close to others (`MST`) by
    # spelling alone.
    close = difflib.get_close_matches(key, sorted(names), n=3, cutoff=0.6) if "/" in key else []
    if close:
        others = f" (other close names: {', '.join(f'`{name}`' for name in close[1:])})" if close[1:] else ""
        return f"did you mean `{close[0]}`?{others} Write the zone's IANA name"
    return (
        "use an Area/Location name from the IANA time-zone database, e.g. `Asia/Seoul` or `America/New_York` "
        "(an abbreviation such as KST or EDT names no zone: it does not say when daylight saving starts)"
    )


# --- offsets ------------------------------------------------------------------------------------------------


def _offset_at(zone: tzinfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    return timedelta(0) if offset is None else offset


def offset_changes(zone: tzinfo, now: datetime, horizon: timedelta = HORIZON) -> list[OffsetChange]:
    """When the zone's UTC offset changes within `horizon` after `now`: `_STEP` at a time, then the exact second by
    bisection (tzdata's transitions are on whole seconds). `expression` is left empty; `to_utc` fills it."""
    start = now.astimezone(UTC)
    changes: list[OffsetChange] = []
    instant, offset = start, _offset_at(zone, start)
    while instant < start + horizon:
        following = instant + _STEP
        new_offset = _offset_at(zone, following)
        if new_offset != offset:
            low, high = int(instant.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_at(zone, datetime.fromtimestamp(middle, UTC)) == offset:
                    low = middle
                else:
                    high = middle
            changes.append(OffsetChange(datetime.fromtimestamp(high, UTC), new_offset, ""))
        instant, offset = following, new_offset
    return changes


def offset_text(offset: timedelta) -> str:
    """`+09:00`, `-04:00`, `+05:45`."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


# --- conversion ---------------------------------------------------------------------------------------------


def to_utc(expression: str, zone: tzinfo, now: datetime) -> UtcSchedule | Refusal:
    """`expression` (five fields, local time in `zone`) as the UTC expression for the offset in force at `now`,
    with the offset changes within `HORIZON`; or why no single UTC expression runs it at one of those offsets.
    Raises `CronError` for an expression `parse_cron` refuses."""
    local = parse_cron(expression)
    offset = _offset_at(zone, now)
    changes = offset_changes(zone, now)
    offsets = [offset, *(change.offset for change in changes)]
    converted: list[str] = []
    for index, each in enumerate(offsets):
        result = _shift(local, each)
        if isinstance(result, _Inexpressible):
            since = "" if index == 0 else f" (in force from {_utc_text(changes[index - 1].at)})"
            return result.refusal(local, _zone_name(zone), each, since, _same_day_window(offsets))
        converted.append(result)
    return UtcSchedule(
        local.expression,
        zone,
        now,
        offset,
        converted[0],
        tuple(
            OffsetChange(change.at, change.offset, text) for change, text in zip(changes, converted[1:], strict=True)
        ),
    )


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def _same_day_window(offsets: list[timedelta]) -> tuple[int, int]:
    """The local minutes of the day that stay on the same day in UTC at every one of `offsets`: UTC = local -
    offset, so from the largest positive offset to 23:59 minus the most negative one."""
    minutes = [int(offset.total_seconds()) // 60 for offset in offsets]
    return max(0, *minutes), min(_DAY - 1, _DAY - 1 + min(minutes))


def _render(values: frozenset[int], low: int, high: int) -> str:
    """A field's values as cron text: `*`, a step `*/S` or `A-B/S`, else a list of single values and ranges."""
    ordered = sorted(values)
    if len(ordered) == high - low + 1:
        return "*"
    if len(ordered) >= 3:
        step = ordered[1] - ordered[0]
        if step > 1 and ordered == list(range(ordered[0], high + 1, step)):
            return f"*/{step}" if ordered[0] == low else f"{ordered[0]}-{ordered[-1]}/{step}"
    parts: list[str] = []
    for _, run in itertools.groupby(enumerate(ordered), key=lambda pair: pair[1] - pair[0]):
        values_in_run = [value for _, value in run]
        if len(values_in_run) >= 3:
            parts.append(f"{values_in_run[0]}-{values_in_run[-1]}")
        else:
            parts.extend(str(value) for value in values_in_run)
    return ",".join(parts)


def _field_text(original: str, before: frozenset[int], after: frozenset[int], low: int, high: int) -> str:
    """The field as written when its values did not move, else rendered from the new values."""
    return original if before == after else _render(after, low, high)


def _every_day(local: CronSchedule) -> bool:
    """Whether the day fields select every day: then moving a run across midnight changes no day. Days match when
    both day fields match if either is written starting with `*`, else when either matches (cron.py)."""
    if len(local.months) != 12:
        return False
    full_dom, full_dow = len(local.days_of_month) == 31, len(local.days_of_week) == 7
    return (full_dom and full_dow) if local.dom_star or local.dow_star else (full_dom or full_dow)


def _only_days_of_week(local: CronSchedule) -> bool:
    """Whether only the day of week restricts the days (every month, every day of the month, both must match)."""
    return len(local.months) == 12 and len(local.days_of_month) == 31 and (local.dom_star or local.dow_star)


@dataclass(frozen=True)
class _Inexpressible:
    """Why the shifted schedule is not one expression. `times` maps each local minute of the day to its UTC minute
    and day shift; `days` are the day fields the UTC alternative keeps (counted in UTC)."""

    times: dict[int, tuple[int, int]]
    product: bool  # whether the UTC times are every combination of their hours and minutes
    why_days: str | None  # why the day fields cannot move (None when they can)
    days: list[str]

    def refusal(
        self, local: CronSchedule, zone: str, offset: timedelta, since: str, window: tuple[int, int]
    ) -> Refusal:
        at = f"in {zone} at UTC offset {offset_text(offset)}{since}"
        utc_times = sorted({utc for utc, _ in self.times.values()})
        hours = frozenset(utc // 60 for utc in utc_times)
        minutes = frozenset(utc % 60 for utc in utc_times)
        cover = " ".join([_render(minutes, 0, 59), _render(hours, 0, 23), *self.days])
        in_utc = f"remove `timeZone` and write the schedule in UTC: `{cover}`"
        crossing = sorted(t for t, (_, shift) in self.times.items() if shift)
        if self.why_days is not None:
            local_time, (utc_time, shift) = crossing[0], self.times[crossing[0]]
            in_utc += (
                f" (its days then count in UTC: {_hhmm(utc_time)} UTC on those days is {_hhmm(local_time)} on the "
                f"{'next' if shift < 0 else 'previous'} day in {zone})"
            )
        if not self.product:
            pairs = ", ".join(f"{_hhmm(t)} -> {_hhmm(self.times[t][0])}" for t in sorted(self.times)[:4])
            pairs += ", ..." if len(self.times) > 4 else ""
            extra = sorted({h * 60 + m for h in hours for m in minutes} - set(utc_times))
            extra_text = ", ".join(_hhmm(t) for t in extra[:4]) + (", ..." if len(extra) > 4 else "")
            problem = (
                f"`{local.expression}` {at} runs at {pairs} UTC: those UTC times are not every combination of one "
                "set of hours and one set of minutes, and a cron expression runs every listed minute of every "
                "listed hour, so no single five-field UTC expression runs them"
            )
            if self.why_days is not None:
                problem += f"; also, {self.why_days}"
            fix = (
                f"choose local minutes that stay the same minutes in UTC in every hour, or {in_utc}, which also runs "
                f"at {extra_text} UTC"
            )
            return Refusal(problem, fix)
        direction = "previous" if self.times[crossing[0]][1] < 0 else "next"
        shown = ", ".join(f"{_hhmm(t)} -> {_hhmm(self.times[t][0])}" for t in crossing[:3])
        shown += ", ..." if len(crossing) > 3 else ""
        problem = f"`{local.expression}` {at} runs at {shown} UTC on the {direction} day: {self.why_days}"
        first, last = window
        fix = (
            f"run it at local times from {_hhmm(first)} to {_hhmm(last)}, which stay on the same day in UTC, or "
            f"{in_utc}"
        )
        return Refusal(problem, fix)


def _shift(local: CronSchedule, offset: timedelta) -> str | _Inexpressible:
    """The UTC expression running `local` (local time at `offset`), or why there is none."""
    total = offset.total_seconds()
    if total == 0:
        return local.expression
    offset_minutes = int(total) // 60
    times: dict[int, tuple[int, int]] = {}
    for hour, minute in itertools.product(local.hours, local.minutes):
        shift, utc = divmod(hour * 60 + minute - offset_minutes, _DAY)
        times[hour * 60 + minute] = (utc, shift)
    utc_times = {utc for utc, _ in times.values()}
    hours = frozenset(utc // 60 for utc in utc_times)
    minutes = frozenset(utc % 60 for utc in utc_times)
    product = len(utc_times) == len(hours) * len(minutes)
    shifts = {shift for _, shift in times.values()}
    fields = local.expression.split()
    days = fields[2:]
    why: str | None = None
    if shifts != {0} and not _every_day(local):
        if len(shifts) > 1:
            why = (
                f"some runs cross midnight into another UTC day and others do not, while the day fields "
                f"`{' '.join(fields[2:])}` restrict the days, and one expression cannot move the days of some runs only"
            )
        elif not _only_days_of_week(local):
            (shift,) = shifts
            why = (
                f"the day-of-month and month fields `{fields[2]} {fields[3]}` would have to move to the "
                f"{'previous' if shift < 0 else 'next'} day too, and cron cannot say that: the day before the 1st "
                "is the 28th, 29th, 30th or 31st, and a month's last day moves into the next month"
            )
        else:
            (shift,) = shifts
            moved = frozenset((day + shift) % 7 for day in local.days_of_week)
            days = ["*", fields[3], _render(moved, 0, 6)]
    if not product or why is not None:
        return _Inexpressible(times, product, why, days)
    text = " ".join(
        [
            _field_text(fields[0], local.minutes, minutes, 0, 59),
            _field_text(fields[1], local.hours, hours, 0, 23),
            *days,
        ]
    )
    parse_cron(text)  # every expression written here is one the parser (and the policy pack) accepts
    return text
