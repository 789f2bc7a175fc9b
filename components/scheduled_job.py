"""`ScheduledJobComponent`: a job Azure starts on a cron schedule (nightly exports, periodic clean-ups).

Everything but the trigger is the default job (`JobComponent.build`), so every manual-job rule holds. The cron
expression is evaluated in UTC by Azure (Microsoft Learn `container-apps/jobs.md`, "Scheduled jobs"; there is no
time-zone setting: microsoft/azure-container-apps issue 1109). `nextRunsUtc` shows the next three runs, computed
offline from the expression (`policy/aca_facts/cron.py`) when the program runs, so a reviewer sees when it will run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pulumi_azure_native import app

from components.config import ScheduledJobConfig
from components.job_template import JobComponent

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
