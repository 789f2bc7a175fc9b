"""The table of job kinds: each kind is one entry (config key, config model, the component of each of its models),
and everything that handles jobs iterates this table: the stack config model (one `aca-jobs:<key>` map per kind),
the program (one component per job), compare and promotion. Adding a kind = a config model, a component and one
entry here. Adding an event source = a module under `components/event_sources/`, its component in
`components/event_job.py` and one entry in `EVENT_SOURCES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_azure_native import app
from pydantic import Field, create_model
from pydantic.alias_generators import to_snake

from components.config import PROJECT, ContainerAppsName, JobSettings, StackConfigBase
from components.event_job import EventHubEventJob, EventJob, ServiceBusEventJob, StorageQueueEventJob
from components.event_sources import EventJobSettings, EventSource, event_job_config
from components.event_sources.event_hub import EventHubJobConfig
from components.event_sources.service_bus import ServiceBusJobConfig
from components.event_sources.storage_queue import StorageQueueJobConfig
from components.job_template import JobComponent
from components.manual_job import ManualJobComponent, ManualJobConfig
from components.scheduled_job import ScheduledJobComponent, ScheduledJobConfig


@dataclass(frozen=True)
class EventSourceKind:
    """An event source: its config model (which names its block, e.g. `storageQueue`) and the component of its
    jobs."""

    model: type[EventJobSettings]
    component: type[EventJob]

    @property
    def source(self) -> type[EventSource]:
        return self.component.SOURCE


# Every event source. Tools read what a source is (its entities, what they hold) from here, never by name.
EVENT_SOURCES: tuple[EventSourceKind, ...] = (
    EventSourceKind(ServiceBusJobConfig, ServiceBusEventJob),
    EventSourceKind(StorageQueueJobConfig, StorageQueueEventJob),
    EventSourceKind(EventHubJobConfig, EventHubEventJob),
)
EventJobConfig = event_job_config([source.model for source in EVENT_SOURCES])


@dataclass(frozen=True)
class JobKind:
    key: str  # the config key without the project namespace, e.g. `manualJobs`
    model: type[JobSettings]
    # The component of each model the kind's jobs validate as (an event job's is its source's).
    components: dict[type[JobSettings], type[JobComponent]]

    def component_for(self, job: JobSettings) -> type[JobComponent]:
        return self.components[type(job)]

    @property
    def config_key(self) -> str:
        return f"{PROJECT}:{self.key}"

    @property
    def field_name(self) -> str:
        return to_snake(self.key)

    @property
    def trigger_type(self) -> app.TriggerType:
        (trigger,) = {component.TRIGGER_TYPE for component in self.components.values()}
        return trigger


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind("manualJobs", ManualJobConfig, {ManualJobConfig: ManualJobComponent}),
    JobKind("eventJobs", EventJobConfig, {source.model: source.component for source in EVENT_SOURCES}),
    JobKind("scheduledJobs", ScheduledJobConfig, {ScheduledJobConfig: ScheduledJobComponent}),
)
JOB_CONFIG_KEYS: tuple[str, ...] = tuple(kind.config_key for kind in JOB_KINDS)
# Every job component's type token (compare and promotion recognise jobs by them).
JOB_COMPONENT_TYPES: tuple[str, ...] = tuple(
    component.TYPE for kind in JOB_KINDS for component in kind.components.values()
)


def _job_map_field(kind: JobKind) -> Any:
    return (dict[ContainerAppsName, kind.model], Field(alias=kind.config_key, default_factory=dict))  # type: ignore[name-defined]


# The whole stack file's contract: the platform and one map of jobs per kind.
StackConfig: type[StackConfigBase] = create_model(  # type: ignore[call-overload]
    "StackConfig",
    __base__=StackConfigBase,
    __module__=__name__,
    **{kind.field_name: _job_map_field(kind) for kind in JOB_KINDS},
)
