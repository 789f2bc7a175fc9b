"""`ScheduledJobComponent`: a job Azure starts on a cron schedule (nightly exports, periodic clean-ups).

Everything but the trigger is the default job (`JobComponent.build`), so every manual-job rule holds. The cron
expression is evaluated in UTC by Azure (Microsoft Learn `container-apps/jobs.md`, "Scheduled jobs"; there is no
time-zone setting: microsoft/azure-container-apps issue 1109). `nextRunsUtc` shows the next three runs, computed
offline from the expression (`policy/aca_facts/cron.py`) when the program runs, so a reviewer sees when it will run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pulumi_azure_native import app
from pydantic import AfterValidator

from components.config import JobSettings, rule_error
from components.job_template import JobComponent
from policy.aca_facts.cron import CronError, CronSchedule, parse_cron

# --- config ------------------------------------------------------------------------------------------------


def check_cron(expression: str) -> str:
    try:
        return parse_cron(expression).expression
    except CronError as error:
        raise rule_error(error.problem, error.fix) from None


class ScheduledJobConfig(JobSettings):
    """A job Azure starts on a cron schedule, evaluated in UTC (Azure has no time-zone setting: convert the time)."""

    cron_expression: Annotated[str, AfterValidator(check_cron)]

    @property
    def schedule(self) -> CronSchedule:
        return parse_cron(self.cron_expression)

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
                f"between two runs of `{self.cron_expression}` (UTC): a new execution starts while the last one "
                "still runs, so executions overlap (and hold cores together). Lower replicaTimeout or "
                "replicaRetryLimit, space the schedule out, or make overlapping runs safe."
            )
        return found


def _readable(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


# When "now" is (tests replace it to get fixed run times).
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


class ScheduledJobComponent(JobComponent):
    TYPE: ClassVar[str] = "aca-jobs:index:ScheduledJob"
    TRIGGER_TYPE: ClassVar[app.TriggerType] = app.TriggerType.SCHEDULE

    def trigger_settings(self, config: ScheduledJobConfig) -> dict[str, Any]:
        return {"cron_expression": config.cron_expression}

    def kind_outputs(self, config: ScheduledJobConfig) -> dict[str, Any]:
        return {
            "cronExpressionUtc": config.cron_expression,
            "nextRunsUtc": [run.strftime("%Y-%m-%dT%H:%MZ") for run in config.schedule.next_runs(clock(), 3)],
        }
