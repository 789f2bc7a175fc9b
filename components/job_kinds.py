"""The table of job kinds: each kind is one entry (config key, config model, component, trigger), and everything
that handles jobs iterates this table: the stack config model (one `aca-jobs:<key>` map per kind), the program
(one component per job), promotion (which keys hold images). Adding a kind = a config model, a component and
one entry here. Adding an event source = a module under `components/event_sources/` and one entry in
`EVENT_SOURCES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_azure_native import app
from pydantic import Field, create_model
from pydantic.alias_generators import to_snake

from components.config import PROJECT, ContainerAppsName, JobSettings, StackConfigBase
from components.event_job import ServiceBusEventJob
from components.event_sources import EventSource
from components.event_sources.service_bus import EventJobConfig, ServiceBusQueueSource
from components.job_template import JobComponent
from components.manual_job import ManualJobComponent, ManualJobConfig
from components.scheduled_job import ScheduledJobComponent, ScheduledJobConfig


@dataclass(frozen=True)
class JobKind:
    key: str  # the config key without the project namespace, e.g. `manualJobs`
    model: type[JobSettings]
    component: type[JobComponent]

    @property
    def config_key(self) -> str:
        return f"{PROJECT}:{self.key}"

    @property
    def field_name(self) -> str:
        return to_snake(self.key)

    @property
    def trigger_type(self) -> app.TriggerType:
        return self.component.TRIGGER_TYPE


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind("manualJobs", ManualJobConfig, ManualJobComponent),
    JobKind("eventJobs", EventJobConfig, ServiceBusEventJob),
    JobKind("scheduledJobs", ScheduledJobConfig, ScheduledJobComponent),
)
JOB_CONFIG_KEYS: tuple[str, ...] = tuple(kind.config_key for kind in JOB_KINDS)
# Every event source: what tools read of a source (e.g. what its entities hold) comes from here, never a name.
EVENT_SOURCES: tuple[type[EventSource], ...] = (ServiceBusQueueSource,)


def _job_map_field(kind: JobKind) -> Any:
    return (dict[ContainerAppsName, kind.model], Field(alias=kind.config_key, default_factory=dict))  # type: ignore[name-defined]


# The whole stack file's contract: the platform and one map of jobs per kind.
StackConfig: type[StackConfigBase] = create_model(  # type: ignore[call-overload]
    "StackConfig",
    __base__=StackConfigBase,
    __module__=__name__,
    **{kind.field_name: _job_map_field(kind) for kind in JOB_KINDS},
)
