"""Event sources: what starts an event job's executions. Each source is one module here, holding everything that is
the source's own: the entities the stack creates for it, its KEDA scale rule (type and metadata), the scaler
identity's grants, the code identity's grants, the code's environment, its alerts and its operator outputs. The
event job component (`components/event_job.py`) assembles the job once, the same way for every source.

Every event job is configured under `aca-jobs:eventJobs`; the block it has chooses its source (`queue`: a Service
Bus queue, `storageQueue`, `eventHub`), exactly one. Each source's config model is an `EventJobSettings` subclass
naming its block (`SOURCE_KEY`); `event_job_config` builds the kind's model, which validates a job as the model of
the block it has.

Adding a source = a module with its config model and an `EventSource` subclass, an `EventJob` subclass naming it
with its own type token (`components/event_job.py`), and its entry in `components/job_kinds.py` (`EVENT_SOURCES`);
tools read sources from `EVENT_SOURCES`, never by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

import pulumi
from pulumi_azure_native import app
from pydantic import Field, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import PydanticCustomError

from components.config import JobSettings, PlatformFacts, collected, raise_all, rule_error
from policy.aca_facts.arm_id import ArmId
from policy.aca_facts.clouds import CLOUDS
from policy.aca_facts.roles import BuiltInRole

if TYPE_CHECKING:  # annotations only
    from components.alerts import AlertRefs
    from components.job_identity import JobIdentity, RoleGrant
    from components.platform import PlatformRefs


class EventJobSettings(JobSettings):
    """What every event job has, whatever its source: how many messages (or events) one execution takes, and how
    many executions may run. A source's model adds its block (`SOURCE_KEY`) and its own settings."""

    # The config block that names the source (`queue`, `storageQueue`, `eventHub`).
    SOURCE_KEY: ClassVar[str]
    # Environment variables the job sets for its code (a user value would silently override them), and what the
    # source is called in the message refusing one.
    WORKLOAD_ENV: ClassVar[tuple[str, ...]] = ()
    SOURCE_NOUN: ClassVar[str] = "source"
    # Messages (events) per execution: the scaler starts ceil(backlog / messageCount) executions.
    message_count: Annotated[int, Field(ge=1)]
    # The backlog below which no execution starts (KEDA's activation threshold of the source's scaler).
    activation_message_count: Annotated[int, Field(ge=0)] = 0
    polling_interval: Annotated[int, Field(ge=1)] = 30
    min_executions: Annotated[int, Field(ge=0)] = 0
    max_executions: Annotated[int, Field(ge=1)] = 10

    def rule_problems(self) -> list[PydanticCustomError]:
        problems = super().rule_problems()
        if self.min_executions > self.max_executions:
            problems.append(
                rule_error(
                    f"minExecutions {self.min_executions} is above maxExecutions {self.max_executions}",
                    f"lower minExecutions to at most {self.max_executions}, or raise maxExecutions",
                    key="minExecutions",
                )
            )
        for name in self.WORKLOAD_ENV:
            if name in self.env:
                problems.append(
                    rule_error(
                        f"`{name}` is set by the event job for its workload identity and {self.SOURCE_NOUN}",
                        f"remove env.{name}; the job sets it",
                        key=f"env.{name}",
                    )
                )
        own = {(role.guid, ArmId.parse(scope)): role for role, scope in self.source_grants()}
        for index, grant in enumerate(self.azure_access):
            role = own.get((grant.built_in_role.guid, grant.scope_id))
            if role is not None:
                problems.append(
                    rule_error(
                        f"repeats a grant the event job already makes: its source (`{self.SOURCE_KEY}`) gives the "
                        f"job's code `{role.display_name}` on `{grant.scope}` (one Azure role assignment cannot be two "
                        "resources)",
                        "remove this azureAccess item",
                        key=f"azureAccess.{index}",
                    )
                )
        return problems

    def source_grants(self) -> list[tuple[BuiltInRole, str]]:
        """The code's grants at the source, as (role, scope id) when config alone names the scope; a source whose
        scope depends on the platform checks its own (`check_in_stack`)."""
        return []

    def peak_cores(self) -> tuple[float, str, str]:
        cores = self.max_executions * self.parallelism * self.cpu
        how = f"maxExecutions {self.max_executions} x parallelism {self.parallelism} x cpu {self.cpu}"
        return cores, how, "maxExecutions"


def source_blocks(models: Sequence[type[EventJobSettings]]) -> str:
    return ", ".join(f"`{model.SOURCE_KEY}`" for model in models)


def event_job_config(models: Sequence[type[EventJobSettings]]) -> type[EventJobSettings]:
    """The `eventJobs` kind's model: a job is validated as the model of the one source block it has. Its rules
    across jobs run per source, on that source's jobs."""
    by_key = {model.SOURCE_KEY: model for model in models}

    class EventJobConfig(EventJobSettings):
        SOURCE_MODELS: ClassVar[Mapping[str, type[EventJobSettings]]] = by_key

        @model_validator(mode="wrap")
        @classmethod
        def _as_its_source(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
            if cls is not EventJobConfig:
                return handler(data)
            return cls.source_model(data).model_validate(data)

        # Read by `components/config_problems.py`, which reads each job's keys with the model of its source.

        @classmethod
        def source_model(cls, data: Any) -> type[EventJobSettings]:
            """The model of the one source block `data` has; a rule error naming the blocks otherwise."""
            found = [key for key in by_key if isinstance(data, Mapping) and key in data]
            if len(found) == 1:
                return by_key[found[0]]
            if found:
                raise rule_error(
                    f"has {len(found)} sources ({source_blocks([by_key[key] for key in found])}); an event job "
                    "reads exactly one",
                    "keep one of them, and make another job for the other source",
                    key=found[1],
                )
            raise rule_error(
                f"an event job needs its source: one of {source_blocks(models)}",
                "add `queue: <Service Bus queue>`, `storageQueue: {accountId: <storage account id>, queue: <name>}` "
                "or `eventHub: {namespaceId: <Event Hubs namespace id>, name: <hub>, consumerGroup: <name>, "
                "checkpoint: {accountId: <storage account id>, container: <name>}}`",
            )

        @classmethod
        def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformFacts, key: str) -> None:
            problems: list[PydanticCustomError] = []
            for model in models:
                own = {name: job for name, job in jobs.items() if isinstance(job, model)}
                if own:
                    with collected(problems):
                        model.check_in_stack(own, platform, key)  # type: ignore[arg-type]
            raise_all(key, problems)

    return EventJobConfig


def keda_cloud_metadata(cloud: str) -> dict[str, str]:
    """KEDA's `cloud` trigger metadata for a stack outside the public cloud: the Azure scalers take their service
    suffix from it and default to the public cloud (kedacore/keda v2.20.2 `pkg/scalers/azure/
    azure_cloud_environment.go` `ParseEnvironmentProperty`; names from `cloud_config.go` `environments`). Nothing
    for the public cloud, so its rules stay as they were."""
    keda_name = CLOUDS[cloud].keda_cloud
    return {} if keda_name is None else {"cloud": keda_name}


class EventSource(ABC):
    """One job's event source, built as children of the job's component.

    The event job calls, in this order: `create` (the entities the stack creates for the source), the identities
    with `scaler_grants` and `code_grants`, then the job with `scale_rule`, `code_env` and `secrets`, then
    `alerts` and `outputs`."""

    # The scale rule's name in the job (part of the job's definition: changing it changes every deployed job).
    SCALE_RULE_NAME: ClassVar[str]
    # The KEDA scaler type of the rule (`type` in the job's scale rule).
    SCALE_RULE_TYPE: ClassVar[str]
    # What `create` makes that holds data, by resource type token: what is lost when Azure deletes it
    # (`tools/stateful.py` reports it when a config edit makes one leave the stack).
    HOLDS: ClassVar[Mapping[str, str]] = {}
    # The platform resource each of those lives in (deleting it deletes them, retained or not), by type token.
    CONTAINED_IN: ClassVar[Mapping[str, str]] = {}
    # The job setting, as written in YAML, that opts in to deleting them with the job.
    DELETE_WITH_JOB: ClassVar[str | None] = None

    def __init__(self, parent: pulumi.Resource, job_name: str, config: EventJobSettings, platform: PlatformRefs):
        self.parent = parent
        self.job_name = job_name
        self.config = config
        self.platform = platform

    @abstractmethod
    def create(self) -> None:
        """Create what the stack creates for the source (e.g. the queue), as children of `parent`."""

    @abstractmethod
    def scaler_grants(self) -> list[RoleGrant]:
        """What the scaler identity (lifecycle `None`) needs at the source to read its backlog."""

    @abstractmethod
    def code_grants(self) -> list[RoleGrant]:
        """What the code's identity (lifecycle `Main`) needs at the source to consume it."""

    @abstractmethod
    def scale_rule_metadata(self) -> dict[str, str]:
        """The scale rule's metadata (KEDA reads every value as a string)."""

    def scale_rule(self, scaler_identity: JobIdentity) -> app.JobScaleRuleArgs:
        """The job's scale rule, read by the scaler with its identity."""
        return app.JobScaleRuleArgs(
            name=self.SCALE_RULE_NAME,
            type=self.SCALE_RULE_TYPE,
            metadata=self.metadata(),
            identity=scaler_identity.id,
        )

    def metadata(self) -> dict[str, str]:
        """The rule's metadata with the stack's cloud, for scalers that need it."""
        return {**self.scale_rule_metadata(), **keda_cloud_metadata(self.platform.placement.cloud)}

    def code_env(self) -> dict[str, pulumi.Input[str]]:
        """What the code needs to find the source (no secret)."""
        return {}

    def secrets(self) -> list[app.SecretArgs]:
        """Job secrets the source needs (the fallback's connection string); none by default."""
        return []

    def alerts(self, alerts: AlertRefs) -> dict[str, Any]:
        """The source's alert rules, as job outputs (their ids); none by default."""
        return {}

    def outputs(self) -> dict[str, Any]:
        """The source's operator outputs (ids, names, commands)."""
        return {}

    @classmethod
    @abstractmethod
    def scaler_grant_count(cls, config: EventJobSettings) -> int:
        """How many grants `scaler_grants` makes for `config`, counted without building (`footprint`)."""

    @classmethod
    @abstractmethod
    def code_grant_count(cls, config: EventJobSettings) -> int:
        """How many grants `code_grants` makes for `config`, counted without building (`footprint`)."""
