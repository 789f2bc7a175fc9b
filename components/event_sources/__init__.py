"""Event sources: what starts an event job's executions. Each source is one module here, holding everything that is
the source's own: the entities the stack creates for it, its KEDA scale rule (type and metadata), the scaler
identity's grants, the code identity's grants, the code's environment, its alerts and its operator outputs. The
event job component (`components/event_job.py`) assembles the job once, the same way for every source.

Adding a source = a module with its config model and an `EventSource` subclass, an `EventJob` subclass naming it
with its own type token (`components/event_job.py`), and its entries in `components/job_kinds.py` (`JOB_KINDS`,
`EVENT_SOURCES`); tools read sources from `EVENT_SOURCES`, never by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi
from pulumi_azure_native import app

if TYPE_CHECKING:  # annotations only
    from components.alerts import AlertRefs
    from components.config import JobSettings
    from components.job_identity import JobIdentity, RoleGrant
    from components.platform import PlatformRefs


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

    def __init__(self, parent: pulumi.Resource, job_name: str, config: JobSettings, platform: PlatformRefs):
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
            metadata=self.scale_rule_metadata(),
            identity=scaler_identity.id,
        )

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
    def scaler_grant_count(cls, config: JobSettings) -> int:
        """How many grants `scaler_grants` makes for `config`, counted without building (`footprint`)."""

    @classmethod
    @abstractmethod
    def code_grant_count(cls, config: JobSettings) -> int:
        """How many grants `code_grants` makes for `config`, counted without building (`footprint`)."""
