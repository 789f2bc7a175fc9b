"""The `Microsoft.App/jobs` resource as every job kind builds it: container template, resources,
registry pull through a managed identity, identity lifecycles, retries, timeout, the trigger block, tags and the
explicit wait on role assignments. A job kind adds only what is its own (`JobComponent.build`): its identities'
grants, the trigger's own settings (an event job's scale rule) and its outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
from pulumi_azure_native import app

from components.config import IDEMPOTENT_TAG, PARTIAL_COMPLETION_TAG, JobSettings
from components.job_identity import JobIdentity
from components.platform import PlatformRefs

# triggerType -> the one `*TriggerConfig` block Azure reads for it (SPEC Jobs.json `JobConfiguration`).
TRIGGER_BLOCKS: dict[app.TriggerType, tuple[str, type]] = {
    app.TriggerType.MANUAL: ("manual_trigger_config", app.JobConfigurationManualTriggerConfigArgs),
    app.TriggerType.EVENT: ("event_trigger_config", app.JobConfigurationEventTriggerConfigArgs),
    app.TriggerType.SCHEDULE: ("schedule_trigger_config", app.JobConfigurationScheduleTriggerConfigArgs),
}


@dataclass(frozen=True)
class JobArgs:
    """What every job component is built from: its validated config and the platform it runs on."""

    config: JobSettings
    platform: PlatformRefs


@dataclass(frozen=True)
class JobDefinition:
    name: str
    settings: JobSettings
    trigger_type: app.TriggerType
    # The identity the platform pulls images with (lifecycle None: unreachable from containers).
    pull_identity: JobIdentity
    # Every identity assigned to the job, the pull identity included, each listed with its lifecycle.
    identities: Sequence[JobIdentity]
    # The trigger's own settings beside the replica settings every trigger block shares (e.g. `scale`).
    trigger_settings: Mapping[str, Any] = field(default_factory=dict)
    extra_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Sequence[app.SecretArgs] = ()


def trigger_block(definition: JobDefinition) -> dict[str, Any]:
    """`{<block>_trigger_config: ...}` for the job's trigger type; parallelism and replicaCompletionCount are set
    here once, for every kind."""
    argument, block_args = TRIGGER_BLOCKS[definition.trigger_type]
    settings = definition.settings
    return {
        argument: block_args(
            parallelism=settings.parallelism,
            replica_completion_count=settings.replica_completion_count,
            **definition.trigger_settings,
        )
    }


def container_template(
    name: str, settings: JobSettings, extra_env: Mapping[str, pulumi.Input[str]]
) -> app.JobTemplateArgs:
    env = {**settings.env, **extra_env}
    return app.JobTemplateArgs(
        containers=[
            app.ContainerArgs(
                name=name,
                image=settings.image,
                resources=app.ContainerResourcesArgs(cpu=settings.cpu, memory=settings.memory),
                env=[app.EnvironmentVarArgs(name=key, value=value) for key, value in sorted(env.items())] or None,
            )
        ]
    )


# Markers a reviewer (and the policy pack) reads on the job itself: the deliberate choices that relax a rule.


def job_tags(settings: JobSettings, platform_tags: Mapping[str, str]) -> dict[str, str]:
    markers = {IDEMPOTENT_TAG: settings.idempotent, PARTIAL_COMPLETION_TAG: settings.allow_partial_completion}
    return {**platform_tags, **{tag: "true" for tag, chosen in markers.items() if chosen}}


def create_job(parent: pulumi.Resource, definition: JobDefinition, platform: PlatformRefs) -> app.Job:
    settings = definition.settings
    role_assignments = [ra for identity in definition.identities for ra in identity.role_assignments]
    return app.Job(
        definition.name,
        # The config key is the job's Azure name: operators and `az containerapp job start` use it.
        job_name=definition.name,
        resource_group_name=platform.resource_group_name,
        location=platform.location,
        environment_id=platform.environment_id,
        identity=app.ManagedServiceIdentityArgs(
            type=app.ManagedServiceIdentityType.USER_ASSIGNED,
            user_assigned_identities=[identity.id for identity in definition.identities],
        ),
        configuration=app.JobConfigurationArgs(
            # The SDK silently defaults triggerType to Manual; always say which trigger is meant.
            trigger_type=definition.trigger_type,
            **trigger_block(definition),
            replica_retry_limit=settings.replica_retry_limit,
            replica_timeout=settings.replica_timeout,
            registries=[
                app.RegistryCredentialsArgs(server=platform.registry.server, identity=definition.pull_identity.id)
            ],
            identity_settings=[identity.identity_setting() for identity in definition.identities],
            secrets=list(definition.secrets) or None,
        ),
        template=container_template(definition.name, settings, definition.extra_env),
        tags=job_tags(settings, platform.tags),
        # Role assignments are separate resources the job does not reference: without this wait the job
        # could exist (and be started) before its identity may pull the image or read the queue.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=role_assignments),
    )


class JobComponent(pulumi.ComponentResource):
    """Base of every job kind's component: one component per job, registered under the kind's type token, with the
    job's outputs (the operator contract) registered on it."""

    # The component's type token: part of every child's URN, so it never changes once released.
    TYPE: ClassVar[str]
    TRIGGER_TYPE: ClassVar[app.TriggerType]
    job: app.Job
    outputs: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: JobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.outputs = self.build(name, args.config, args.platform)
        self.register_outputs(self.outputs)

    def build(self, name: str, config: Any, platform: PlatformRefs) -> dict[str, pulumi.Input[str]]:
        """Create the kind's resources as children of `self`; return the job's outputs."""
        raise NotImplementedError
