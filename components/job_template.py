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

from components.alerts import failed_executions_alert
from components.config import (
    IDEMPOTENT_TAG,
    PARTIAL_COMPLETION_TAG,
    SUBSCRIPTION_KEY,
    ContainerSettings,
    JobSettings,
    ProbeConfig,
    SecretRef,
    VolumeConfig,
)
from components.job_identity import (
    Footprint,
    JobIdentity,
    RoleGrant,
    access_grants,
    granted_secret_names,
    job_identity,
    secret_read_grants,
)
from components.naming import ACR_PULL
from components.operations import job_outputs
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


def environment_variable(name: str, value: pulumi.Input[str] | SecretRef) -> app.EnvironmentVarArgs:
    """A plain value, or a reference to one of the job's secrets (its value never enters the job definition)."""
    if isinstance(value, SecretRef):
        return app.EnvironmentVarArgs(name=name, secret_ref=value.secret_ref)
    return app.EnvironmentVarArgs(name=name, value=value)


def container_fields(
    container: ContainerSettings, extra_env: Mapping[str, pulumi.Input[str]] | None = None
) -> dict[str, Any]:
    """What every container of the job sends, main or init (SPEC CommonDefinitions.json `BaseContainer`: image,
    command, args, env, resources, volumeMounts), from the one config model every container shares."""
    env = {**container.env, **(extra_env or {})}
    return {
        "image": container.image,
        "command": container.command,
        "args": container.args,
        "resources": app.ContainerResourcesArgs(cpu=container.cpu, memory=container.memory),
        "env": [environment_variable(key, value) for key, value in sorted(env.items())] or None,
        "volume_mounts": [
            app.VolumeMountArgs(volume_name=mount.volume, mount_path=mount.mount_path, sub_path=mount.sub_path)
            for mount in container.volume_mounts
        ]
        or None,
    }


def probe(config: ProbeConfig) -> app.ContainerAppProbeArgs:
    """A probe of the main container (SPEC CommonDefinitions.json `ContainerAppProbe`)."""
    return app.ContainerAppProbeArgs(
        type=config.type,
        http_get=None
        if config.http_get is None
        else app.ContainerAppProbeHttpGetArgs(port=config.http_get.port, path=config.http_get.path),
        tcp_socket=None
        if config.tcp_socket is None
        else app.ContainerAppProbeTcpSocketArgs(port=config.tcp_socket.port),
        initial_delay_seconds=config.initial_delay_seconds,
        period_seconds=config.period_seconds,
        failure_threshold=config.failure_threshold,
        timeout_seconds=config.timeout_seconds,
    )


def volume(name: str, config: VolumeConfig) -> app.VolumeArgs:
    """A volume of the job's replicas (SPEC CommonDefinitions.json `Volume`): a `Secret` volume lists its files (never
    empty: an empty list would mount every secret of the job), an `AzureFile` volume names the environment's
    registration."""
    return app.VolumeArgs(
        name=name,
        storage_type=config.type,
        storage_name=config.storage,
        mount_options=config.mount_options,
        secrets=None
        if config.items is None
        else [app.SecretVolumeItemArgs(secret_ref=item.secret_ref, path=item.file_name) for item in config.items],
    )


def container_template(
    name: str, settings: JobSettings, extra_env: Mapping[str, pulumi.Input[str]]
) -> app.JobTemplateArgs:
    """The job's template: the main container (named as the job, with the environment the job adds and its
    probes), its init containers in order, and its volumes."""
    return app.JobTemplateArgs(
        containers=[
            app.ContainerArgs(
                name=name,
                **container_fields(settings, extra_env),
                probes=[probe(config) for config in settings.probes] or None,
            )
        ],
        init_containers=[
            app.InitContainerArgs(name=container.name, **container_fields(container))
            for container in settings.init_containers
        ]
        or None,
        volumes=[volume(name, config) for name, config in sorted(settings.volumes.items())] or None,
    )


def key_vault_secrets(settings: JobSettings, pull_identity: JobIdentity) -> list[app.SecretArgs]:
    """The job's secrets as Key Vault references, read by the platform with the lifecycle-None identity (which holds
    Key Vault Secrets User on exactly these secrets); Container Apps stores only the URL."""
    return [
        app.SecretArgs(name=name, key_vault_url=secret.key_vault_secret_url, identity=pull_identity.id)
        for name, secret in sorted(settings.secrets.items())
    ]


# Markers a reviewer (and the policy pack) reads on the job itself: the deliberate choices that relax a rule.


def job_tags(settings: JobSettings, platform_tags: Mapping[str, str]) -> dict[str, str]:
    markers = {IDEMPOTENT_TAG: settings.idempotent, PARTIAL_COMPLETION_TAG: settings.allow_partial_completion}
    return {**platform_tags, **{tag: "true" for tag, chosen in markers.items() if chosen}}


# While a job is adopted, the properties a hand-made job has otherwise than this stack declares them (our identities,
# the registry pulled through one, identity settings, Key Vault secrets, markers in tags, env) are read from the live
# job instead of compared with it. An import step compares the declared inputs with the live resource's: any
# difference is a warning in the preview ("inputs to import do not match the existing resource; importing this
# resource will fail") and an error in `pulumi up`; properties in `ignoreChanges` take the live values first
# (pulumi/pulumi `pkg/resource/deploy/step.go` `ImportStep.Apply`: `processIgnoreChanges`, then `diffResource`).
# Left compared, so that a job elsewhere is never adopted: its name, resource group, location and environment.
ADOPTION_IGNORED_PROPERTIES = ("configuration", "identity", "tags", "template", "workloadProfileName")


def job_arm_id(subscription: str, resource_group: str, name: str) -> str:
    """The id Azure gives a job of this name in the stack's resource group (SPEC Jobs.json path
    `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.App/jobs/{jobName}`)."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.App/jobs/{name}"


def adoption_options(name: str, settings: JobSettings, platform: PlatformRefs) -> dict[str, Any]:
    """`import_` and `ignore_changes` for a job with `adopt: true`; nothing otherwise.

    `import_` must be a plain string (pulumi/pulumi `sdk/python/lib/pulumi/resource.py` `ResourceOptions.import_:
    Optional[str]`, sent as the `importId` string of `RegisterResourceRequest`), so the id is composed from the
    subscription in the stack file (`azure-native:subscriptionId`, the key the provider deploys with; the config
    contract refuses `adopt` without it; it reaches jobs through `JobPlacement`), not from
    `authorization.get_client_config`, an Output. The engine imports only while the state holds no import of this
    id (`pkg/resource/deploy/step_generator.go`: `isImport := goal.Custom && goal.ID != "" && (!hasOld ||
    old.External || oldImportID != goal.ID)`)."""
    if not settings.adopt:
        return {}
    subscription = platform.placement.configured_subscription_id
    if subscription is None:  # guaranteed by StackConfig (`adopt` needs it); a programming error otherwise
        raise ValueError(f"adopting {name} needs {SUBSCRIPTION_KEY}")
    return {
        "import_": job_arm_id(subscription, platform.placement.resource_group, name),
        "ignore_changes": list(ADOPTION_IGNORED_PROPERTIES),
    }


def mounted_storages(settings: JobSettings, platform: PlatformRefs) -> list[pulumi.Resource]:
    """The environment storage registrations this stack creates that the job's volumes mount: the job waits for
    them. Resource-level, not through the template's inputs: the template depends on identities only, which is what
    the policy pack's `job-computed-env-from-identities` reads to trust env values unknown in a first preview."""
    return [
        platform.storage_registrations[volume.storage]
        for volume in settings.volumes.values()
        if volume.storage is not None and volume.storage in platform.storage_registrations
    ]


def create_job(parent: pulumi.Resource, definition: JobDefinition, platform: PlatformRefs) -> app.Job:
    settings = definition.settings
    role_assignments = [ra for identity in definition.identities for ra in identity.role_assignments]
    return app.Job(
        definition.name,
        # The config key is the job's Azure name: operators and `az containerapp job start` use it.
        job_name=definition.name,
        resource_group_name=platform.placement.resource_group_name,
        # The job runs in the platform's environment, so in its region.
        location=platform.contract.location,
        environment_id=platform.contract.environment_id,
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
                app.RegistryCredentialsArgs(
                    server=platform.contract.registry.server, identity=definition.pull_identity.id
                )
            ],
            identity_settings=[identity.identity_setting() for identity in definition.identities],
            secrets=[*key_vault_secrets(settings, definition.pull_identity), *definition.secrets] or None,
        ),
        # The profile's name as configured: the built-in `Consumption` or a dedicated profile of the environment.
        workload_profile_name=settings.workload_profile,
        template=container_template(definition.name, settings, definition.extra_env),
        tags=job_tags(settings, platform.placement.tags),
        # Role assignments are separate resources the job does not reference: without this wait the job
        # could exist (and be started) before its identities may pull the image, read its secrets or the queue.
        # An adopted job is imported after its grants exist too: the first `pulumi up` creates the identities and
        # grants, then imports the job unchanged (docs/adopting.md).
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=[*role_assignments, *mounted_storages(settings, platform)],
            **adoption_options(definition.name, settings, platform),
        ),
    )


class JobComponent(pulumi.ComponentResource):
    """Base of every job kind's component: one component per job, registered under the kind's type token, with the
    job's outputs (the operator contract) registered on it.

    The default `build` is a job an operator or a schedule starts: a lifecycle-None identity that pulls the image and
    reads the job's Key Vault secrets, a lifecycle-Main identity for the code when the job has `azureAccess`, and
    the job. A kind overrides `trigger_settings` and `kind_outputs`, and an event job adds its source's grants,
    environment and secrets through the hooks below; no kind re-assembles the job."""

    # The component's type token: part of every child's URN, so it never changes once released.
    TYPE: ClassVar[str]
    TRIGGER_TYPE: ClassVar[app.TriggerType]
    # The lifecycle-None identity's role in its logical name (`<job>-pull`): part of URNs, fixed once released.
    PULL_IDENTITY_ROLE: ClassVar[str] = "pull"
    job: app.Job
    pull_identity: JobIdentity
    workload_identity: JobIdentity | None
    outputs: dict[str, Any]

    def __init__(self, name: str, args: JobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.outputs = self.build(name, args.config, args.platform)
        self.register_outputs(self.outputs)

    def build(self, name: str, config: Any, platform: PlatformRefs) -> dict[str, Any]:
        """Create the kind's resources as children of `self`; return the job's outputs."""
        # Used only by the platform to pull the image and read secrets, and by a scaler to read its source
        # (lifecycle None): no container can take its tokens.
        self.pull_identity = job_identity(
            self,
            name,
            self.PULL_IDENTITY_ROLE,
            app.IdentitySettingsLifeCycle.NONE,
            [
                RoleGrant(ACR_PULL, platform.contract.registry.resource_id),
                *self.scaler_grants(),
                *secret_read_grants(config, platform),
            ],
            platform,
        )
        self.workload_identity = None
        extra_env: dict[str, pulumi.Input[str]] = {}
        code_grants = [*self.code_grants(), *access_grants(config)]
        if code_grants:
            # What the job's code runs as (lifecycle Main), holding only the grants it needs and `azureAccess` lists.
            self.workload_identity = job_identity(
                self, name, "workload", app.IdentitySettingsLifeCycle.MAIN, code_grants, platform
            )
            extra_env["AZURE_CLIENT_ID"] = self.workload_identity.identity.client_id
        self.job = create_job(
            self,
            JobDefinition(
                name=name,
                settings=config,
                trigger_type=self.TRIGGER_TYPE,
                pull_identity=self.pull_identity,
                identities=[self.pull_identity, *([self.workload_identity] if self.workload_identity else [])],
                trigger_settings=self.trigger_settings(config),
                extra_env={**extra_env, **self.code_env()},
                secrets=self.secrets(),
            ),
            platform,
        )
        return {
            **job_outputs(name, self.job, self.pull_identity, platform),
            **workload_outputs(self.workload_identity),
            **self.alert_on_failures(name, platform),
            **self.kind_outputs(config),
        }

    @classmethod
    def footprint(cls, config: Any) -> Footprint:
        """The identities and role assignments `build` creates for `config`, counted without building: the pull
        identity (AcrPull, the kind's scaler grants and one Key Vault Secrets User per secret) and, when the code
        needs any grant, the workload identity (the kind's code grants and one grant per `azureAccess` entry).
        `tests/test_scale.py` holds this equal to what a run registers."""
        pull = 1 + cls.scaler_grant_count(config) + len(granted_secret_names(config))
        workload = cls.code_grant_count(config) + len(config.azure_access)
        return Footprint(identities=1 + (1 if workload else 0), role_assignments=pull + workload)

    # What a kind adds to the default job. Manual and scheduled jobs add only trigger settings and outputs; an event
    # job adds its source's grants, environment, secrets and outputs (`components/event_job.py`).

    def scaler_grants(self) -> list[RoleGrant]:
        """Grants of the lifecycle-None identity beside AcrPull and the Key Vault secrets."""
        return []

    def code_grants(self) -> list[RoleGrant]:
        """Grants of the lifecycle-Main identity beside `azureAccess`."""
        return []

    @classmethod
    def scaler_grant_count(cls, config: Any) -> int:
        return 0

    @classmethod
    def code_grant_count(cls, config: Any) -> int:
        return 0

    def code_env(self) -> dict[str, pulumi.Input[str]]:
        """Environment the code needs beside AZURE_CLIENT_ID (no secret)."""
        return {}

    def secrets(self) -> list[app.SecretArgs]:
        """Job secrets beside the Key Vault references."""
        return []

    def alert_on_failures(self, name: str, platform: PlatformRefs) -> dict[str, Any]:
        """The failed-execution alert rule when the stack alerts; returns its output (the rule's id)."""
        if platform.alerts is None:
            return {}
        return {"failedExecutionAlertId": failed_executions_alert(self, name, platform.alerts)}

    def trigger_settings(self, config: Any) -> dict[str, Any]:
        """The trigger block's own settings beside parallelism and replicaCompletionCount."""
        return {}

    def kind_outputs(self, config: Any) -> dict[str, Any]:
        """Outputs only this kind has."""
        return {}


def workload_outputs(identity: JobIdentity | None) -> dict[str, Any]:
    if identity is None:
        return {}
    return {
        "workloadIdentityClientId": identity.identity.client_id,
        "workloadIdentityPrincipalId": identity.identity.principal_id,
    }
