"""`JobsPlatform`: the resource group, the Log Analytics workspace and the Container Apps environment
every job of the stack runs in."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app, operationalinsights, resources

from components.config import PlatformConfig, RegistryConfig


@dataclass(frozen=True)
class JobsPlatformArgs:
    config: PlatformConfig
    location: str


@dataclass(frozen=True)
class PlatformRefs:
    """What a job needs from the platform: where to live, what to pull from, how to tag, what to protect."""

    resource_group_name: pulumi.Output[str]
    location: str
    environment_id: pulumi.Output[str]
    registry: RegistryConfig
    tags: dict[str, str]
    protect: bool


class JobsPlatform(pulumi.ComponentResource):
    resource_group: resources.ResourceGroup
    workspace: operationalinsights.Workspace
    environment: app.ManagedEnvironment
    refs: PlatformRefs

    def __init__(self, name: str, args: JobsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aca-jobs:index:JobsPlatform", name, None, opts)
        config, location = args.config, args.location
        tags = dict(config.tags)

        def stateful(**extra: object) -> pulumi.ResourceOptions:
            # Stateful resources are protected as a whole stack decides (prod: on); their physical names come
            # from config so that no unrelated change can replace them.
            return pulumi.ResourceOptions(parent=self, protect=config.protect, **extra)  # type: ignore[arg-type]

        self.resource_group = resources.ResourceGroup(
            "resource-group",
            resource_group_name=config.resource_group,
            location=location,
            tags=tags,
            opts=stateful(),
        )
        self.workspace = operationalinsights.Workspace(
            "workspace",
            workspace_name=config.environment.workspace,
            resource_group_name=self.resource_group.name,
            location=location,
            sku=operationalinsights.WorkspaceSkuArgs(
                name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018
            ),
            retention_in_days=config.environment.log_retention_days,
            tags=tags,
            opts=stateful(),
        )
        shared_key = operationalinsights.get_shared_keys_output(
            resource_group_name=self.resource_group.name,
            workspace_name=self.workspace.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).primary_shared_key
        self.environment = app.ManagedEnvironment(
            "environment",
            environment_name=config.environment.name,
            resource_group_name=self.resource_group.name,
            location=location,
            app_logs_configuration=app.AppLogsConfigurationArgs(
                destination="log-analytics",
                log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
                    customer_id=self.workspace.customer_id,
                    # The workspace key lets anyone write into the workspace: never in plaintext state.
                    shared_key=pulumi.Output.secret(shared_key),
                ),
            ),
            tags=tags,
            opts=stateful(),
        )
        self.refs = PlatformRefs(
            resource_group_name=self.resource_group.name,
            location=location,
            environment_id=self.environment.id,
            registry=config.registry,
            tags=tags,
            protect=config.protect,
        )
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group.name,
                "environmentId": self.environment.id,
                "workspaceCustomerId": self.workspace.customer_id,
            }
        )
