"""`JobsPlatform`: the resource group, the Log Analytics workspace and the Container Apps environment
every job of the stack runs in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import app, operationalinsights, resources, servicebus

from components.alerts import AlertRefs, stack_alerts
from components.arm import deployment_subscription, known_after, resource_id
from components.config import CONSUMPTION, PlatformConfig
from components.environment_storage import register_storages, storage_identity
from components.platform_contract import (
    JobPlacement,
    PlatformContract,
    RegistryContract,
    ServiceBusContract,
    StorageContract,
    WorkloadProfileContract,
)
from policy.aca_facts.arm_id import ArmId


@dataclass(frozen=True)
class JobsPlatformArgs:
    config: PlatformConfig
    location: str
    # True only when an event job opted into the connection-string fallback.
    service_bus_local_auth: bool = False
    # `azure-native:subscriptionId`, when the stack file sets it.
    subscription_id: str | None = None
    # `azure-native:environment`.
    cloud: str = "public"


@dataclass(frozen=True)
class PlatformRefs:
    """What each job is given: the platform contract (all it reads of the platform), where the stack places the
    jobs' own resources, and, when the stack alerts, what its alert rules need."""

    contract: PlatformContract
    placement: JobPlacement
    alerts: AlertRefs | None = None
    # The storages this stack registers on its environment, by name: a job that mounts one waits for it (a team
    # stack's platform registered them before).
    storage_registrations: Mapping[str, pulumi.Resource] = field(default_factory=dict)


class JobsPlatform(pulumi.ComponentResource):
    resource_group: resources.ResourceGroup
    workspace: operationalinsights.Workspace | None  # None: an existing environment (its workspace is not ours)
    environment: app.ManagedEnvironment | None  # None: an existing environment
    # Azure Files storages registered on the created environment, by name.
    storages: dict[str, app.ManagedEnvironmentsStorage]
    service_bus_namespace: servicebus.Namespace | None
    contract: PlatformContract
    refs: PlatformRefs

    def __init__(self, name: str, args: JobsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aca-jobs:index:JobsPlatform", name, None, opts)
        config, location = args.config, args.location
        tags = dict(config.tags)
        subscription_id = deployment_subscription(self, args.subscription_id)

        def stateful(**extra: object) -> pulumi.ResourceOptions:
            # Stateful resources are protected as a whole stack decides (prod: on); their physical names come
            # from config so that no unrelated change can replace them.
            return pulumi.ResourceOptions(parent=self, protect=config.protect, **extra)  # type: ignore[arg-type]

        def holds_data(**extra: object) -> pulumi.ResourceOptions:
            # The workspace (logs) and the namespace (every queue, so every message) outlive a config edit that
            # removes or renames them: a retained resource that leaves the program, or is replaced, is dropped
            # from the state and left in Azure (pulumi/pulumi `pkg/resource/deploy/step.go` `DeleteStep.Apply`).
            # Unlike a queue there is no opt-out key: deleting one is done deliberately in Azure (README
            # Decisions). `protect` still applies first: it stops the update instead.
            return stateful(retain_on_delete=True, **extra)

        self.resource_group = resources.ResourceGroup(
            "resource-group",
            resource_group_name=config.resource_group,
            location=location,
            tags=tags,
            opts=stateful(),
        )
        # Names come from config, not from the resources' outputs, so a first preview shows them (and the ids
        # built from them); `known_after` keeps each child waiting for the resource group.
        resource_group_name = known_after(config.resource_group, self.resource_group)
        environment = config.environment
        self.storages = {}
        if environment.existing is None:
            environment_id, workspace_id, customer_id = self._created_environment(
                config, location, tags, resource_group_name, subscription_id, stateful, holds_data
            )
        else:
            environment_id, workspace_id, customer_id = self._existing_environment(config)
        self.service_bus_namespace = None
        service_bus = None
        if config.service_bus is not None and config.service_bus.existing is None:
            self.service_bus_namespace = servicebus.Namespace(
                "service-bus",
                namespace_name=config.service_bus.name,
                resource_group_name=resource_group_name,
                location=location,
                sku=servicebus.SBSkuArgs(name=config.service_bus.sku, tier=config.service_bus.sku),
                minimum_tls_version=servicebus.TlsVersion.TLS_VERSION_1_2,
                # Entra ID only: no SAS keys exist to leak, unless a job chose the connection-string fallback.
                disable_local_auth=not args.service_bus_local_auth,
                tags=tags,
                opts=holds_data(),
            )
            namespace = config.service_bus.name
            service_bus = ServiceBusContract(
                namespace=namespace,
                subscription_id=subscription_id,
                namespace_name=known_after(namespace, self.service_bus_namespace),
                namespace_id=known_after(
                    resource_id(
                        subscription_id, config.resource_group, "Microsoft.ServiceBus", "namespaces", namespace
                    ),
                    self.service_bus_namespace,
                ),
                host_name=config.service_bus.host_name,
                resource_group=config.resource_group,
                resource_group_name=resource_group_name,
                sku=config.service_bus.sku,
                local_auth_allowed=args.service_bus_local_auth,
            )
        elif config.service_bus is not None:
            # An existing namespace: never created, updated or deleted here; the stack creates its queues in it. What
            # the contract needs comes from config (its id, and the tier it says it has). Its local-auth setting is
            # its own: the connection-string fallback works only where the namespace allows SAS keys.
            existing = config.service_bus.existing
            assert existing is not None and existing.resource_group is not None  # a parsed namespace id
            service_bus = ServiceBusContract(
                namespace=config.service_bus.name,
                subscription_id=existing.subscription or "",
                namespace_name=config.service_bus.name,
                namespace_id=str(existing),
                host_name=config.service_bus.host_name,
                resource_group=existing.resource_group,
                resource_group_name=existing.resource_group,
                sku=config.service_bus.sku,
                local_auth_allowed=args.service_bus_local_auth,
            )
        placement = JobPlacement(
            subscription_id=subscription_id,
            resource_group=config.resource_group,
            resource_group_name=resource_group_name,
            location=location,
            tags=tags,
            protect=config.protect,
            configured_subscription_id=args.subscription_id,
            cloud=args.cloud,
        )
        alert_refs = None
        if config.active_alerts is not None:
            alert_refs = stack_alerts(
                self,
                config.active_alerts,
                config.environment.environment_name,
                workspace_id,
                subscription_id,
                config.resource_group,
                resource_group_name,
                location,
                tags,
            )
        self.contract = PlatformContract(
            subscription_id=subscription_id,
            location=location,
            environment_id=environment_id,
            workload_profiles=tuple(
                WorkloadProfileContract(
                    name=profile.name,
                    workload_profile_type=profile.workload_profile_type,
                    minimum_count=profile.minimum_count,
                    maximum_count=profile.maximum_count,
                    node_cores=profile.node_cores,
                    node_memory_gib=profile.node_memory_gib,
                )
                for profile in config.environment.workload_profiles
            ),
            core_quota=config.environment.core_quota,
            workspace_id=workspace_id,
            workspace_customer_id=customer_id,
            registry=RegistryContract(server=config.registry.server, resource_id=config.registry.resource_id),
            service_bus=service_bus,
            key_vault_id=config.key_vault.resource_id if config.key_vault else None,
            action_group_id=alert_refs.action_group_id if alert_refs else None,
            tags=tags,
            protect=config.protect,
            storages=tuple(
                StorageContract(name=name, access_mode=storage.access_mode)
                for name, storage in sorted(config.environment.storages.items())
            ),
        )
        self.refs = PlatformRefs(
            contract=self.contract, placement=placement, alerts=alert_refs, storage_registrations=dict(self.storages)
        )
        self.register_outputs(
            {
                "resourceGroupName": resource_group_name,
                "environmentId": self.contract.environment_id,
                "workspaceCustomerId": customer_id,
            }
        )

    def _created_environment(
        self,
        config: PlatformConfig,
        location: str,
        tags: dict[str, str],
        resource_group_name: pulumi.Output[str],
        subscription_id: pulumi.Input[str],
        stateful: Callable[..., pulumi.ResourceOptions],
        holds_data: Callable[..., pulumi.ResourceOptions],
    ) -> tuple[pulumi.Input[str], pulumi.Input[str] | None, pulumi.Input[str] | None]:
        """The workspace and the environment the stack creates: (environment id, workspace id, customer id)."""
        self.workspace = operationalinsights.Workspace(
            "workspace",
            workspace_name=config.workspace,
            resource_group_name=resource_group_name,
            location=location,
            sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
            retention_in_days=config.environment.log_retention_days,
            tags=tags,
            opts=holds_data(),
        )
        # Built from the workspace's outputs on purpose: in the first preview the workspace does not exist, so the
        # key cannot be read and stays unknown (an invoke with unknown arguments is not run).
        shared_key = operationalinsights.get_shared_keys_output(
            resource_group_name=self.resource_group.name,
            workspace_name=self.workspace.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).primary_shared_key
        # The identity the environment reads storage account keys with (only when it registers storages).
        identity = storage_identity(self, config, location, tags, subscription_id, resource_group_name)
        self.environment = app.ManagedEnvironment(
            "environment",
            environment_name=config.environment.name or "",
            resource_group_name=resource_group_name,
            location=location,
            # A workload-profiles environment: the built-in Consumption profile (what Microsoft Learn recommends over
            # the legacy Consumption-only kind) plus the dedicated profiles from config. Azure cannot convert a
            # Consumption-only environment; see README "Workload profiles".
            workload_profiles=[
                app.WorkloadProfileArgs(name=CONSUMPTION, workload_profile_type=CONSUMPTION),
                *(
                    app.WorkloadProfileArgs(
                        name=profile.name,
                        workload_profile_type=profile.workload_profile_type,
                        minimum_count=profile.minimum_count,
                        maximum_count=profile.maximum_count,
                    )
                    for profile in config.environment.workload_profiles
                ),
            ],
            app_logs_configuration=app.AppLogsConfigurationArgs(
                destination="log-analytics",
                log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
                    customer_id=self.workspace.customer_id,
                    # The workspace key lets anyone write into the workspace: never in plaintext state.
                    shared_key=pulumi.Output.secret(shared_key),
                ),
            ),
            # Joins the virtual network when config says so (its infrastructure subnet; `internal`: no public endpoint).
            vnet_configuration=None
            if config.environment.network is None
            else app.VnetConfigurationArgs(
                infrastructure_subnet_id=config.environment.network.infrastructure_subnet_id,
                internal=config.environment.network.internal,
            ),
            identity=identity.assignment() if identity is not None else None,
            tags=tags,
            opts=stateful(),
        )
        if identity is not None:
            self.storages = register_storages(self, config, self.environment, identity, resource_group_name)
        environment_id = resource_id(
            subscription_id,
            config.resource_group,
            "Microsoft.App",
            "managedEnvironments",
            config.environment.name or "",
        )
        workspace_id = resource_id(
            subscription_id, config.resource_group, "Microsoft.OperationalInsights", "workspaces", config.workspace
        )
        return (
            known_after(environment_id, self.environment),
            known_after(workspace_id, self.workspace),
            self.workspace.customer_id,
        )

    def _existing_environment(
        self, config: PlatformConfig
    ) -> tuple[pulumi.Input[str], pulumi.Input[str] | None, pulumi.Input[str] | None]:
        """An existing environment: never created, updated or deleted here. Its id comes from config; its
        workspace's customer id (for log queries) from a read of `workspaceResourceId` (an invoke, which a preview
        runs too, so a first preview shows it); without one the stack has no workspace to alert or query on."""
        self.workspace = None
        self.environment = None
        environment = config.environment
        if environment.workspace_resource_id is None:
            return str(environment.existing), None, None
        workspace = ArmId.parse(environment.workspace_resource_id)
        customer_id = operationalinsights.get_workspace_output(
            resource_group_name=workspace.resource_group or "",
            workspace_name=workspace.name or "",
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).customer_id
        return str(environment.existing), str(workspace), customer_id
