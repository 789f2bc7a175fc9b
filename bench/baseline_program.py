"""Benchmark baseline: the same Azure resources, with the same inputs, as `__main__.py` registers for a
stack, but registered directly with pulumi-azure-native: no components, no config models, no policies.

Run under the same mock runtime by `bench/run.py`; never deployed."""

import uuid

import pulumi
from pulumi_azure_native import app, authorization, managedidentity, operationalinsights, resources, servicebus

NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:aca-jobs:role-assignment")
ROLES = {
    "acr-pull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "sb-data-owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
    "sb-data-receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
}

config = pulumi.Config("aca-jobs")
platform = config.require_object("platform")
location = pulumi.Config("azure-native").require("location")
tags = platform.get("tags", {})
registry = platform["registry"]
namespace_host = f"{platform['serviceBus']['namespace']}.servicebus.windows.net"

rg = resources.ResourceGroup(
    "resource-group", resource_group_name=platform["resourceGroup"], location=location, tags=tags
)
workspace = operationalinsights.Workspace(
    "workspace",
    workspace_name=f"log-{platform['environment']['name']}",
    resource_group_name=rg.name,
    location=location,
    sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
    retention_in_days=platform["environment"].get("logRetentionDays", 30),
    tags=tags,
)
key = operationalinsights.get_shared_keys_output(resource_group_name=rg.name, workspace_name=workspace.name)
environment = app.ManagedEnvironment(
    "environment",
    environment_name=platform["environment"]["name"],
    resource_group_name=rg.name,
    location=location,
    app_logs_configuration=app.AppLogsConfigurationArgs(
        destination="log-analytics",
        log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
            customer_id=workspace.customer_id, shared_key=pulumi.Output.secret(key.primary_shared_key)
        ),
    ),
    tags=tags,
)
namespace = servicebus.Namespace(
    "service-bus",
    namespace_name=platform["serviceBus"]["namespace"],
    resource_group_name=rg.name,
    location=location,
    sku=servicebus.SBSkuArgs(name="Standard", tier="Standard"),
    minimum_tls_version="1.2",
    disable_local_auth=True,
    tags=tags,
)


def identity(name: str) -> managedidentity.UserAssignedIdentity:
    return managedidentity.UserAssignedIdentity(
        name, resource_name_=f"id-{name}", resource_group_name=rg.name, location=location, tags=tags
    )


def grant(name: str, principal: managedidentity.UserAssignedIdentity, scope: pulumi.Input[str], role: str):
    scope_output = pulumi.Output.from_input(scope)
    return authorization.RoleAssignment(
        f"{name}-{role}",
        role_assignment_name=pulumi.Output.all(scope_output, principal.principal_id).apply(
            lambda v: str(uuid.uuid5(NS, f"{v[0].lower()}|{v[1]}|{ROLES[role]}"))
        ),
        scope=scope_output,
        role_definition_id=scope_output.apply(
            lambda s: (
                f"/subscriptions/{s.split('/')[2]}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}"
            )
        ),
        principal_id=principal.principal_id,
        principal_type="ServicePrincipal",
    )


def job(name: str, settings: dict, trigger: dict, identities: list, grants: list, env: list) -> app.Job:
    return app.Job(
        name,
        job_name=name,
        resource_group_name=rg.name,
        location=location,
        environment_id=environment.id,
        identity=app.ManagedServiceIdentityArgs(
            type="UserAssigned", user_assigned_identities=[i.id for i, _ in identities]
        ),
        configuration=app.JobConfigurationArgs(
            replica_timeout=settings.get("replicaTimeout", 1800),
            replica_retry_limit=settings.get("replicaRetryLimit", 0),
            registries=[app.RegistryCredentialsArgs(server=registry["server"], identity=identities[0][0].id)],
            identity_settings=[app.IdentitySettingsArgs(identity=i.id, lifecycle=lc) for i, lc in identities],
            **trigger,
        ),
        template=app.JobTemplateArgs(
            containers=[
                app.ContainerArgs(
                    name=name,
                    image=settings["image"],
                    resources=app.ContainerResourcesArgs(
                        cpu=settings.get("cpu", 0.5), memory=settings.get("memory", "1Gi")
                    ),
                    env=env or None,
                )
            ]
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(depends_on=grants),
    )


for name, settings in config.get_object("manualJobs", {}).items():
    pull = identity(f"{name}-pull")
    acr = grant(f"{name}-pull", pull, registry["resourceId"], "acr-pull")
    manual = app.JobConfigurationManualTriggerConfigArgs(
        parallelism=settings.get("parallelism", 1), replica_completion_count=settings.get("replicaCompletionCount", 1)
    )
    job(name, settings, {"trigger_type": "Manual", "manual_trigger_config": manual}, [(pull, "None")], [acr], [])

for name, settings in config.get_object("eventJobs", {}).items():
    queue = servicebus.Queue(
        f"queue-{settings['queue']}",
        queue_name=settings["queue"],
        namespace_name=namespace.name,
        resource_group_name=rg.name,
        max_delivery_count=settings.get("maxDeliveryCount", 10),
        lock_duration=settings.get("lockDuration", "PT1M"),
        dead_lettering_on_message_expiration=True,
    )
    scaler, workload = identity(f"{name}-scaler"), identity(f"{name}-workload")
    grants = [
        grant(f"{name}-scaler", scaler, registry["resourceId"], "acr-pull"),
        grant(f"{name}-scaler", scaler, queue.id, "sb-data-owner"),
        grant(f"{name}-workload", workload, queue.id, "sb-data-receiver"),
    ]
    rule = app.JobScaleRuleArgs(
        name="queue-backlog",
        type="azure-servicebus",
        identity=scaler.id,
        metadata={
            "queueName": settings["queue"],
            "namespace": namespace.name,
            "messageCount": str(settings["messageCount"]),
            "activationMessageCount": "0",
        },
    )
    event = app.JobConfigurationEventTriggerConfigArgs(
        parallelism=1,
        replica_completion_count=1,
        scale=app.JobScaleArgs(
            min_executions=0, max_executions=settings.get("maxExecutions", 10), polling_interval=30, rules=[rule]
        ),
    )
    env = [
        app.EnvironmentVarArgs(name="AZURE_CLIENT_ID", value=workload.client_id),
        app.EnvironmentVarArgs(name="SERVICEBUS_FULLY_QUALIFIED_NAMESPACE", value=namespace_host),
        app.EnvironmentVarArgs(name="SERVICEBUS_QUEUE_NAME", value=settings["queue"]),
    ]
    job(
        name,
        settings,
        {"trigger_type": "Event", "event_trigger_config": event},
        [(scaler, "None"), (workload, "Main")],
        grants,
        env,
    )
