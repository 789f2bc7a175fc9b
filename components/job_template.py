"""The `Microsoft.App/jobs` resource as every job kind builds it: container template, resources,
registry pull through a managed identity, identity lifecycles, retries, timeout, tags and the explicit
wait on role assignments. Job kinds add only their trigger (and, for event jobs, scale-rule secrets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import app

from components.config import IDEMPOTENT_TAG, PARTIAL_COMPLETION_TAG, JobSettings
from components.job_identity import JobIdentity
from components.platform import PlatformRefs


@dataclass(frozen=True)
class Trigger:
    """The trigger-specific part of a job's configuration: exactly one `*TriggerConfig` block."""

    trigger_type: app.TriggerType
    manual: app.JobConfigurationManualTriggerConfigArgs | None = None
    event: app.JobConfigurationEventTriggerConfigArgs | None = None


@dataclass(frozen=True)
class JobDefinition:
    name: str
    settings: JobSettings
    trigger: Trigger
    # The identity the platform pulls images with (lifecycle None: unreachable from containers).
    pull_identity: JobIdentity
    # Every identity assigned to the job, the pull identity included, each listed with its lifecycle.
    identities: Sequence[JobIdentity]
    extra_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Sequence[app.SecretArgs] = ()


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
    settings, trigger = definition.settings, definition.trigger
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
            trigger_type=trigger.trigger_type,
            manual_trigger_config=trigger.manual,
            event_trigger_config=trigger.event,
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
