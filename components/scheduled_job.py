"""`ScheduledJobComponent`: a job Azure starts on a cron schedule (nightly exports, periodic clean-ups).

Everything but the trigger is the default job (`JobComponent.build`), so every manual-job rule holds. The cron
expression is evaluated in UTC by Azure (Microsoft Learn `container-apps/jobs.md`, "Scheduled jobs"; there is no
time-zone setting: microsoft/azure-container-apps issue 1109). `nextRunsUtc` shows the next three runs, computed
offline from the expression (`policy/aca_facts/cron.py`) when the program runs, so a reviewer sees when it will run.

With `timeZone`, `cronExpression` is local time there: the job registers the UTC expression for the UTC offset in
force when the program runs (`components/local_schedule.py`), and its outputs add the local run times and the next
offset change, after which the stack must be applied again (docs/schedules.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pulumi_azure_native import app
from pydantic import AfterValidator, PrivateAttr
from pydantic_core import PydanticCustomError

from components.config import JobSettings, rule_error
from components.job_template import JobComponent
from components.local_schedule import Refusal, UtcSchedule, ZoneError, load_zone, offset_text, to_utc
from policy.aca_facts.cron import CronError, CronSchedule, parse_cron

# When "now" is: the UTC offset a time-zone schedule is converted for, and where the next runs start (tests
# replace it to get fixed offsets and run times).
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
# How close an offset change must be for the preview to warn that the schedule must be applied again after it.
REAPPLY_WARNING = timedelta(days=14)

# --- config ------------------------------------------------------------------------------------------------


def check_cron(expression: str) -> str:
    try:
        return parse_cron(expression).expression
    except CronError as error:
        raise rule_error(error.problem, error.fix) from None


def check_zone(name: str) -> str:
    """A zone the pinned database holds (checked on its own, so that it is reported beside a broken cron)."""
    try:
        load_zone(name)
    except ZoneError as error:
        raise rule_error(error.problem, error.fix) from None
    return name


class ScheduledJobConfig(JobSettings):
    """A job Azure starts on a cron schedule, evaluated in UTC; with `timeZone`, the schedule is local time there and
    converted to UTC when the program runs."""

    cron_expression: Annotated[str, AfterValidator(check_cron)]
    # An IANA time-zone name (`Asia/Seoul`): `cronExpression` is then local time in that zone.
    time_zone: Annotated[str, AfterValidator(check_zone)] | None = None
    # The conversion, made once when the config is validated, so that the rules, the registered expression, the
    # outputs and the warnings all use the same "now".
    _local: UtcSchedule | None = PrivateAttr(default=None)

    def rule_problems(self) -> list[PydanticCustomError]:
        problems = super().rule_problems()
        if self.time_zone is None:
            return problems
        converted = to_utc(self.cron_expression, load_zone(self.time_zone), clock())
        if isinstance(converted, Refusal):
            problems.append(rule_error(converted.problem, converted.fix, key="cronExpression"))
        else:
            self._local = converted
        return problems

    @property
    def local(self) -> UtcSchedule | None:
        """The time-zone conversion (None without `timeZone`)."""
        return self._local

    @property
    def utc_expression(self) -> str:
        """The five-field UTC expression Azure runs."""
        return self.cron_expression if self._local is None else self._local.expression

    @property
    def schedule(self) -> CronSchedule:
        """The schedule Azure runs (in UTC)."""
        return parse_cron(self.utc_expression)

    def longest_execution(self) -> tuple[int, str]:
        """Seconds one execution may last at most, and how: replicas run in waves of `parallelism` until
        `replicaCompletionCount` succeed, and each replica may be retried `replicaRetryLimit` times, each attempt
        up to `replicaTimeout`."""
        waves = -(-self.replica_completion_count // self.parallelism)
        attempts = self.replica_retry_limit + 1
        how = f"replicaTimeout {self.replica_timeout}s"
        if attempts > 1:
            how += f" x {attempts} attempts (replicaRetryLimit {self.replica_retry_limit})"
        if waves > 1:
            how += f" x {waves} waves (replicaCompletionCount {self.replica_completion_count} / parallelism "
            how += f"{self.parallelism})"
        return waves * attempts * self.replica_timeout, how

    def warnings(self, name: str) -> list[str]:
        found = super().warnings(name)
        interval = self.schedule.shortest_interval()
        longest, how = self.longest_execution()
        if longest > interval.total_seconds():
            found.append(
                f"scheduled job `{name}` may run for {how} = {longest}s, longer than the {_readable(interval)} "
                f"between two runs of `{self.utc_expression}` (UTC): a new execution starts while the last one "
                "still runs, so executions overlap (and hold cores together). Lower replicaTimeout or "
                "replicaRetryLimit, space the schedule out, or make overlapping runs safe."
            )
        found.extend(self._reapply_warnings(name))
        return found

    def _reapply_warnings(self, name: str) -> list[str]:
        local = self._local
        change = None if local is None else local.next_change
        if local is None or change is None or change.expression == local.expression:
            return []
        if change.at - local.now > REAPPLY_WARNING:
            return []
        days = (change.at - local.now).days
        when = "within a day" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        zone = self.time_zone
        return [
            f"scheduled job `{name}`: {zone} changes its UTC offset to {offset_text(change.offset)} at "
            f"{change.at.strftime('%Y-%m-%dT%H:%MZ')} ({when}). The registered UTC schedule `{local.expression}` "
            f"then no longer runs at `{self.cron_expression}` in {zone}: apply the stack again after that time to "
            f"register `{change.expression}` (the time-zone workflow does it; docs/schedules.md)."
        ]


def _readable(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class ScheduledJobComponent(JobComponent):
    TYPE: ClassVar[str] = "aca-jobs:index:ScheduledJob"
    TRIGGER_TYPE: ClassVar[app.TriggerType] = app.TriggerType.SCHEDULE

    def trigger_settings(self, config: ScheduledJobConfig) -> dict[str, Any]:
        return {"cron_expression": config.utc_expression}

    def kind_outputs(self, config: ScheduledJobConfig) -> dict[str, Any]:
        local = config.local
        now = clock() if local is None else local.now
        runs = config.schedule.next_runs(now, 3)
        outputs: dict[str, Any] = {
            "cronExpressionUtc": config.utc_expression,
            "nextRunsUtc": [run.strftime("%Y-%m-%dT%H:%MZ") for run in runs],
        }
        if local is None:
            return outputs
        outputs |= {
            "timeZone": config.time_zone,
            "cronExpressionLocal": local.local_expression,
            "utcOffset": offset_text(local.offset),
            # The same instants in the zone: after an offset change they show the shifted local time until the
            # stack is applied again.
            "nextRunsLocal": [run.astimezone(local.zone).isoformat(timespec="minutes") for run in runs],
        }
        change = local.next_change
        if change is not None:
            outputs["nextOffsetChange"] = {
                "atUtc": change.at.strftime("%Y-%m-%dT%H:%MZ"),
                "utcOffset": offset_text(change.offset),
                "cronExpressionUtc": change.expression,
                "reapplyNeeded": change.expression != local.expression,
            }
        return outputs
