"""Event jobs: executions started by a KEDA scale rule as an event source's backlog grows; each execution receives
a bounded unit of work and exits.

The job is the default job (`JobComponent.build`) with its source's pieces: the lifecycle-None identity (here the
*scaler* identity) pulls the image and is the scale rule's identity, holding the source's scaler grants; the
lifecycle-Main identity is what the code runs as (`AZURE_CLIENT_ID`), holding the source's code grants. What is the
source's own (entities, scale rule, grants, alerts, outputs) is in its module under `components/event_sources/`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pulumi_azure_native import app

from components.event_sources import EventJobSettings, EventSource
from components.event_sources.event_hub import EventHubSource
from components.event_sources.service_bus import ServiceBusQueueSource
from components.event_sources.storage_queue import StorageQueueSource
from components.job_identity import JobIdentity, RoleGrant
from components.job_template import JobComponent
from components.platform import PlatformRefs


class EventJob(JobComponent):
    """An event job on one source. A subclass names the source (`SOURCE`) and its own type token (`TYPE`)."""

    TRIGGER_TYPE: ClassVar[app.TriggerType] = app.TriggerType.EVENT
    # Part of the lifecycle-None identity's logical name (`<job>-scaler`), hence of URNs.
    PULL_IDENTITY_ROLE: ClassVar[str] = "scaler"
    SOURCE: ClassVar[type[EventSource]]
    source: EventSource
    scaler_identity: JobIdentity

    def build(self, name: str, config: EventJobSettings, platform: PlatformRefs) -> dict[str, Any]:
        self.source = self.SOURCE(self, name, config, platform)
        self.source.create()
        outputs = super().build(name, config, platform)
        self.scaler_identity = self.pull_identity
        return outputs

    def scaler_grants(self) -> list[RoleGrant]:
        return self.source.scaler_grants()

    def code_grants(self) -> list[RoleGrant]:
        return self.source.code_grants()

    @classmethod
    def scaler_grant_count(cls, config: EventJobSettings) -> int:
        return cls.SOURCE.scaler_grant_count(config)

    @classmethod
    def code_grant_count(cls, config: EventJobSettings) -> int:
        return cls.SOURCE.code_grant_count(config)

    def code_env(self) -> dict[str, Any]:
        return self.source.code_env()

    def secrets(self) -> list[app.SecretArgs]:
        return self.source.secrets()

    def trigger_settings(self, config: EventJobSettings) -> dict[str, Any]:
        return {
            "scale": app.JobScaleArgs(
                min_executions=config.min_executions,
                max_executions=config.max_executions,
                polling_interval=config.polling_interval,
                rules=[self.source.scale_rule(self.pull_identity)],
            )
        }

    def kind_outputs(self, config: EventJobSettings) -> dict[str, Any]:
        alerts = self.source.platform.alerts
        return {**({} if alerts is None else self.source.alerts(alerts)), **self.source.outputs()}


class ServiceBusEventJob(EventJob):
    # Released: every event job's URNs hold this token, so it never changes.
    TYPE: ClassVar[str] = "aca-jobs:index:ServiceBusEventJob"
    SOURCE: ClassVar[type[EventSource]] = ServiceBusQueueSource


class StorageQueueEventJob(EventJob):
    TYPE: ClassVar[str] = "aca-jobs:index:StorageQueueEventJob"
    SOURCE: ClassVar[type[EventSource]] = StorageQueueSource


class EventHubEventJob(EventJob):
    TYPE: ClassVar[str] = "aca-jobs:index:EventHubEventJob"
    SOURCE: ClassVar[type[EventSource]] = EventHubSource
