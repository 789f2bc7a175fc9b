"""Benchmark baseline: the same Azure resources, with the same settings, as `__main__.py` registers for a stack,
but registered directly with pulumi-azure-native, as a hand-written program would: no components, no config models,
no policies, ids taken from resource outputs instead of composed from config (what the stack only references, a
storage account, an Event Hubs namespace and its hubs, is named by the id config gives).

Covers what `bench/run.py`'s generated stack uses: the platform (resource group, workspace, environment, Service Bus
namespace, the action group mailing `alerts.emails`), manual and scheduled jobs, and event jobs on each source
(Service Bus `queue`, `storageQueue`, `eventHub`) with what the source creates (the queue; the storage queue and its
poison queue; the consumer group and the checkpoint container), their identities, AcrPull, Key Vault Secrets User per
secret, `azureAccess` grants and the source's data roles, KEDA scale rules, Key Vault secret references, and the
alert rules (failed executions per job; per source: dead letters and stuck backlog per Service Bus queue, the storage
account's backlog, the event hub's incoming events nobody reads). `tests/test_bench.py` checks, as a deployed stack,
that it registers the same Azure resources (types, counts, physical names, inputs) as the real program, and
`bench/run.py` checks types and counts in every round. Run under the same mock runtime by `bench/run.py`; never
deployed."""

import uuid

import pulumi
from pulumi_azure_native import (
    app,
    authorization,
    eventhub,
    managedidentity,
    monitor,
    operationalinsights,
    resources,
    servicebus,
    storage,
)

NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:aca-jobs:role-assignment")
ROLES = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Azure Service Bus Data Owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
    "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "Azure Event Hubs Data Receiver": "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Queue Data Reader": "19e7f393-937e-4f77-808e-94535e297925",
    "Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed",
    "Storage Queue Data Message Sender": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
}
FAILURE_REASONS = '"Failed", "BackoffLimitExceeded", "DeadlineExceeded"'

config = pulumi.Config("aca-jobs")
platform = config.require_object("platform")
location = pulumi.Config("azure-native").require("location")
tags = platform.get("tags", {})
registry = platform["registry"]
environment_name = platform["environment"]["name"]
key_vault_id = (platform.get("keyVault") or {}).get("resourceId")
alerts = platform.get("alerts") or {}
protected = pulumi.ResourceOptions(protect=platform.get("protect", False))
# What holds messages or checkpoints outlives its job unless the job opts in to deleting it.
kept = pulumi.ResourceOptions(protect=platform.get("protect", False), retain_on_delete=True)
backlog = alerts.get("stuckBacklog", {})
backlog_threshold, backlog_minutes = backlog.get("threshold", 100), backlog.get("minutes", 30)
backlog_window = f"PT{backlog_minutes}M" if backlog_minutes < 60 else f"PT{backlog_minutes // 60}H"

rg = resources.ResourceGroup(
    "resource-group", resource_group_name=platform["resourceGroup"], location=location, tags=tags, opts=protected
)
workspace = operationalinsights.Workspace(
    "workspace",
    workspace_name=platform["environment"].get("workspaceName") or f"log-{platform['resourceGroup']}",
    resource_group_name=rg.name,
    location=location,
    sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
    retention_in_days=platform["environment"].get("logRetentionDays", 30),
    tags=tags,
    opts=protected,
)
key = operationalinsights.get_shared_keys_output(resource_group_name=rg.name, workspace_name=workspace.name)
environment = app.ManagedEnvironment(
    "environment",
    environment_name=environment_name,
    resource_group_name=rg.name,
    location=location,
    workload_profiles=[app.WorkloadProfileArgs(name="Consumption", workload_profile_type="Consumption")],
    app_logs_configuration=app.AppLogsConfigurationArgs(
        destination="log-analytics",
        log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
            customer_id=workspace.customer_id, shared_key=pulumi.Output.secret(key.primary_shared_key)
        ),
    ),
    tags=tags,
    opts=protected,
)
namespace = None
if platform.get("serviceBus"):
    sku = platform["serviceBus"].get("sku", "Standard")
    namespace = servicebus.Namespace(
        "service-bus",
        namespace_name=platform["serviceBus"]["namespace"],
        resource_group_name=rg.name,
        location=location,
        sku=servicebus.SBSkuArgs(name=sku, tier=sku),
        minimum_tls_version="1.2",
        disable_local_auth=True,
        tags=tags,
        opts=protected,
    )
    namespace_host = f"{platform['serviceBus']['namespace']}.servicebus.windows.net"
action_group_id = alerts.get("actionGroupId")
if alerts.get("emails"):
    action_group_id = monitor.ActionGroup(
        "action-group",
        action_group_name=f"ag-{environment_name}",
        resource_group_name=rg.name,
        location="Global",
        group_short_name=alerts.get("shortName") or environment_name[:12].rstrip("-"),
        enabled=True,
        email_receivers=[
            monitor.MicrosoftCommonEmailReceiverArgs(name=f"email-{i}", email_address=e, use_common_alert_schema=True)
            for i, e in enumerate(alerts["emails"])
        ],
        tags=tags,
    ).id


def identity(name: str) -> managedidentity.UserAssignedIdentity:
    return managedidentity.UserAssignedIdentity(
        name, resource_name_=f"id-{name}", resource_group_name=rg.name, location=location, tags=tags
    )


def grant(
    name: str, principal: managedidentity.UserAssignedIdentity, scope: pulumi.Input[str], role: str, label: str = ""
) -> authorization.RoleAssignment:
    scope_output = pulumi.Output.from_input(scope)
    guid = ROLES[role]
    return authorization.RoleAssignment(
        f"{name}-{guid[:8]}{label}",
        role_assignment_name=pulumi.Output.all(scope_output, principal.principal_id).apply(
            lambda v: str(uuid.uuid5(NS, f"{v[0].lower()}|{v[1]}|{guid}"))
        ),
        scope=scope_output,
        role_definition_id=scope_output.apply(
            lambda s: f"/subscriptions/{s.split('/')[2]}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
        ),
        principal_id=principal.principal_id,
        principal_type="ServicePrincipal",
        description=f"{role} for {name} (aca-jobs)",
    )


def secret_grants(name: str, principal: managedidentity.UserAssignedIdentity, settings: dict) -> list:
    """Key Vault Secrets User on each Key Vault secret the job reads, at the secret itself."""
    urls = [secret["keyVaultSecretUrl"] for secret in settings.get("secrets", {}).values()]
    names = sorted({url.split("/secrets/")[1].split("/")[0].lower() for url in urls})
    return [
        grant(name, principal, f"{key_vault_id}/secrets/{s}", "Key Vault Secrets User", f"-{i}")
        for i, s in enumerate(names)
    ]


def access_grants(name: str, principal: managedidentity.UserAssignedIdentity, settings: dict) -> list:
    return [
        grant(name, principal, access["scope"], access["role"], f"-{i}")
        for i, access in enumerate(settings.get("azureAccess", []))
    ]


def failed_alert(name: str) -> None:
    failed = alerts.get("failedExecutions", {})
    monitor.ScheduledQueryRule(
        f"{name}-failed-executions",
        rule_name=f"alert-{name}-failed",
        resource_group_name=rg.name,
        location=location,
        kind="LogAlert",
        display_name=f"{name}: an execution failed",
        description=(
            f"A replica of job {name} failed (Failed, BackoffLimitExceeded or DeadlineExceeded). Start with the "
            "job's evidenceQuery and consoleLogQuery outputs; see docs/operations.md."
        ),
        scopes=[workspace.id],
        criteria=monitor.ScheduledQueryRuleCriteriaArgs(
            all_of=[
                monitor.ConditionArgs(
                    query=(
                        'ContainerAppSystemLogs_CL | extend Job = tostring(column_ifexists("JobName_s", "")),'
                        ' Execution = tostring(column_ifexists("ExecutionName_s", "")),'
                        ' Reason = tostring(column_ifexists("Reason_s", "")),'
                        ' Message = tostring(column_ifexists("Log_s", ""))'
                        f' | where Job == "{name}" and isnotempty(Execution) | where Reason in ({FAILURE_REASONS})'
                        " | project TimeGenerated, Execution, Reason, Message"
                    ),
                    time_aggregation="Count",
                    operator="GreaterThan",
                    threshold=0,
                    failing_periods=monitor.ConditionFailingPeriodsArgs(
                        number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                    ),
                )
            ]
        ),
        evaluation_frequency=failed.get("evaluationFrequency", "PT5M"),
        window_size=failed.get("windowSize", "PT15M"),
        severity=failed.get("severity", 1),
        auto_mitigate=True,
        enabled=True,
        actions=monitor.ActionsArgs(action_groups=[action_group_id]),
        tags=tags,
    )


def metric_alert(
    name: str, rule: str, description: str, scope, criteria: list, frequency: str, window: str, severity: int
) -> None:
    monitor.MetricAlert(
        f"{name}-{rule}",
        rule_name=f"alert-{name}-{rule.removeprefix('stuck-')}",
        resource_group_name=rg.name,
        location="global",
        description=description,
        scopes=[scope],
        criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
            odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            all_of=[monitor.MetricCriteriaArgs(criterion_type="StaticThresholdCriterion", **c) for c in criteria],
        ),
        evaluation_frequency=frequency,
        window_size=window,
        severity=severity,
        auto_mitigate=True,
        enabled=True,
        actions=[monitor.MetricAlertActionArgs(action_group_id=action_group_id)],
        tags=tags,
    )


def env_var(name: str, value) -> app.EnvironmentVarArgs:
    if isinstance(value, dict):
        return app.EnvironmentVarArgs(name=name, secret_ref=value["secretRef"])
    return app.EnvironmentVarArgs(name=name, value=value)


def job(name: str, settings: dict, trigger: dict, identities: list, grants: list, extra_env: dict) -> None:
    env = {**settings.get("env", {}), **extra_env}
    markers = {"aca-jobs-idempotent": settings.get("idempotent"), "aca-jobs-partial-completion": None}
    app.Job(
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
            secrets=[
                app.SecretArgs(name=n, key_vault_url=s["keyVaultSecretUrl"], identity=identities[0][0].id)
                for n, s in sorted(settings.get("secrets", {}).items())
            ]
            or None,
            **trigger,
        ),
        workload_profile_name="Consumption",
        template=app.JobTemplateArgs(
            containers=[
                app.ContainerArgs(
                    name=name,
                    image=settings["image"],
                    command=settings.get("command"),
                    args=settings.get("args"),
                    resources=app.ContainerResourcesArgs(
                        cpu=settings.get("cpu", 0.5), memory=settings.get("memory", "1Gi")
                    ),
                    env=[env_var(k, v) for k, v in sorted(env.items())] or None,
                )
            ]
        ),
        tags={**tags, **{tag: "true" for tag, chosen in markers.items() if chosen}},
        opts=pulumi.ResourceOptions(depends_on=grants),
    )
    if action_group_id is not None:
        failed_alert(name)


def replicas(settings: dict) -> dict:
    return {
        "parallelism": settings.get("parallelism", 1),
        "replica_completion_count": settings.get("replicaCompletionCount", 1),
    }


def pull_and_workload(name: str, settings: dict) -> tuple[list, list, dict]:
    """Manual and scheduled jobs: a pull identity (AcrPull, the job's secrets) and, with azureAccess, a workload
    identity holding those grants."""
    pull = identity(f"{name}-pull")
    grants = [
        grant(f"{name}-pull", pull, registry["resourceId"], "AcrPull"),
        *secret_grants(f"{name}-pull", pull, settings),
    ]
    identities, extra_env = [(pull, "None")], {}
    if settings.get("azureAccess"):
        workload = identity(f"{name}-workload")
        grants += access_grants(f"{name}-workload", workload, settings)
        identities.append((workload, "Main"))
        extra_env["AZURE_CLIENT_ID"] = workload.client_id
    return identities, grants, extra_env


for name, settings in config.get_object("manualJobs", {}).items():
    identities, grants, extra_env = pull_and_workload(name, settings)
    manual = app.JobConfigurationManualTriggerConfigArgs(**replicas(settings))
    job(name, settings, {"trigger_type": "Manual", "manual_trigger_config": manual}, identities, grants, extra_env)

for name, settings in config.get_object("scheduledJobs", {}).items():
    identities, grants, extra_env = pull_and_workload(name, settings)
    schedule = app.JobConfigurationScheduleTriggerConfigArgs(
        cron_expression=settings["cronExpression"], **replicas(settings)
    )
    trigger = {"trigger_type": "Schedule", "schedule_trigger_config": schedule}
    job(name, settings, trigger, identities, grants, extra_env)


def event_job(name: str, settings: dict, scaler_grants: list, workload_grants: list, rule: dict, env: dict) -> None:
    """An event job: the scaler identity (AcrPull, the source's scaler grants, the job's secrets) is the scale rule's
    identity; the workload identity holds the source's code grants and `azureAccess`."""
    scaler, workload = identity(f"{name}-scaler"), identity(f"{name}-workload")
    grants = [
        grant(f"{name}-scaler", scaler, registry["resourceId"], "AcrPull"),
        *[grant(f"{name}-scaler", scaler, scope, role) for role, scope in scaler_grants],
        *secret_grants(f"{name}-scaler", scaler, settings),
        *[grant(f"{name}-workload", workload, scope, role) for role, scope in workload_grants],
        *access_grants(f"{name}-workload", workload, settings),
    ]
    event = app.JobConfigurationEventTriggerConfigArgs(
        **replicas(settings),
        scale=app.JobScaleArgs(
            min_executions=settings.get("minExecutions", 0),
            max_executions=settings.get("maxExecutions", 10),
            polling_interval=settings.get("pollingInterval", 30),
            rules=[app.JobScaleRuleArgs(identity=scaler.id, **rule)],
        ),
    )
    trigger = {"trigger_type": "Event", "event_trigger_config": event}
    env = {"AZURE_CLIENT_ID": workload.client_id, **env}
    job(name, settings, trigger, [(scaler, "None"), (workload, "Main")], grants, env)


def thresholds(settings: dict) -> tuple[str, str]:
    return str(settings["messageCount"]), str(settings.get("activationMessageCount", 0))


def service_bus_job(name: str, settings: dict) -> None:
    queue = settings["queue"].lower()
    queue_resource = servicebus.Queue(
        f"queue-{queue}",
        queue_name=queue,
        namespace_name=namespace.name,
        resource_group_name=rg.name,
        max_delivery_count=settings.get("maxDeliveryCount", 10),
        lock_duration=settings.get("lockDuration", "PT1M"),
        default_message_time_to_live=settings.get("messageTimeToLive"),
        dead_lettering_on_message_expiration=True,
        opts=kept,
    )
    count, activation = thresholds(settings)
    event_job(
        name,
        settings,
        [("Azure Service Bus Data Owner", queue_resource.id)],
        [("Azure Service Bus Data Receiver", queue_resource.id)],
        {
            "name": "queue-backlog",
            "type": "azure-servicebus",
            "metadata": {
                "queueName": queue,
                "namespace": namespace.name,
                "messageCount": count,
                "activationMessageCount": activation,
            },
        },
        {"SERVICEBUS_FULLY_QUALIFIED_NAMESPACE": namespace_host, "SERVICEBUS_QUEUE_NAME": queue},
    )
    if action_group_id is None:
        return
    dimensions = [monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[queue])]
    on_queue = {
        "metric_namespace": "Microsoft.ServiceBus/namespaces",
        "operator": "GreaterThan",
        "dimensions": dimensions,
    }
    metric_alert(
        name,
        "dead-letters",
        f"Queue {queue} (job {name}) holds dead-lettered messages. See docs/operations.md, 'Dead letters'.",
        namespace.id,
        [
            {
                "name": "dead-lettered-messages",
                "metric_name": "DeadletteredMessages",
                "threshold": 0,
                "time_aggregation": "Maximum",
                **on_queue,
            }
        ],
        "PT5M",
        "PT15M",
        alerts.get("deadLetters", {}).get("severity", 2),
    )
    metric_alert(
        name,
        "stuck-backlog",
        f"Queue {queue} (job {name}) kept more than {backlog_threshold} active messages for {backlog_minutes} "
        "minutes: executions are not draining it (is the scaler authorized?). See docs/operations.md.",
        namespace.id,
        [
            {
                "name": "active-messages",
                "metric_name": "ActiveMessages",
                "threshold": backlog_threshold,
                "time_aggregation": "Minimum",
                **on_queue,
            }
        ],
        "PT5M",
        backlog_window,
        backlog.get("severity", 2),
    )


def storage_queue_job(name: str, settings: dict) -> None:
    """The job's queue and `<queue>-poison`, created in the account the config names."""
    account_id, queue = settings["storageQueue"]["accountId"], settings["storageQueue"]["queue"]
    account, account_group = account_id.split("/")[-1], account_id.split("/")[4]
    poison = f"{queue}-poison"
    queues = {
        q: storage.Queue(
            f"storage-queue-{account}-{q}",
            queue_name=q,
            account_name=account,
            resource_group_name=account_group,
            opts=kept,
        )
        for q in (queue, poison)
    }
    count, activation = thresholds(settings)
    event_job(
        name,
        settings,
        [("Storage Queue Data Reader", queues[queue].id)],
        [
            ("Storage Queue Data Message Processor", queues[queue].id),
            ("Storage Queue Data Message Sender", queues[poison].id),
        ],
        {
            "name": "storage-queue-backlog",
            "type": "azure-queue",
            "metadata": {
                "accountName": account,
                "queueName": queue,
                "queueLength": count,
                "activationQueueLength": activation,
            },
        },
        {
            "STORAGE_QUEUE_ACCOUNT_URL": f"https://{account}.queue.core.windows.net",
            "STORAGE_QUEUE_NAME": queue,
            "STORAGE_QUEUE_POISON_NAME": poison,
            "STORAGE_QUEUE_MAX_DEQUEUE_COUNT": str(settings.get("maxDequeueCount", 5)),
        },
    )
    if action_group_id is None:
        return
    metric_alert(
        name,
        "account-backlog",
        f"Storage account {account} (job {name}, queue {queue}) held more than {backlog_threshold} messages in its "
        "queues for 6 hours. Account-wide and refreshed up to daily: check the job's queue with its peekCommand "
        "output. See docs/event-sources.md, Storage Queue, Alerts.",
        f"{account_id}/queueServices/default",
        [
            {
                "name": "queue-message-count",
                "metric_namespace": "Microsoft.Storage/storageAccounts/queueServices",
                "metric_name": "QueueMessageCount",
                "operator": "GreaterThan",
                "threshold": backlog_threshold,
                "time_aggregation": "Average",
            }
        ],
        "PT1H",
        "PT6H",
        backlog.get("severity", 2),
    )


def event_hub_job(name: str, settings: dict) -> None:
    """The job's consumer group on the hub and its checkpoint container, both created in what the config names."""
    hub = settings["eventHub"]
    namespace_id, hub_name, group = hub["namespaceId"], hub["name"], hub["consumerGroup"].lower()
    hub_namespace = namespace_id.split("/")[-1]
    account_id, container_name = hub["checkpoint"]["accountId"], hub["checkpoint"]["container"]
    account = account_id.split("/")[-1]
    eventhub.ConsumerGroup(
        f"consumer-group-{hub_namespace}-{hub_name}-{group}",
        consumer_group_name=group,
        event_hub_name=hub_name,
        namespace_name=hub_namespace,
        resource_group_name=namespace_id.split("/")[4],
    )
    container = storage.BlobContainer(
        f"checkpoint-container-{account}-{container_name}",
        container_name=container_name,
        account_name=account,
        resource_group_name=account_id.split("/")[4],
        public_access=storage.PublicAccess.NONE,
        opts=kept,
    )
    hub_id = f"{namespace_id}/eventhubs/{hub_name}"  # referenced, not created: no output to take it from
    count, activation = thresholds(settings)
    event_job(
        name,
        settings,
        [("Azure Event Hubs Data Receiver", hub_id), ("Storage Blob Data Reader", container.id)],
        [("Azure Event Hubs Data Receiver", hub_id), ("Storage Blob Data Contributor", container.id)],
        {
            "name": "unprocessed-events",
            "type": "azure-eventhub",
            "metadata": {
                "eventHubNamespace": hub_namespace,
                "eventHubName": hub_name,
                "consumerGroup": group,
                "unprocessedEventThreshold": count,
                "activationUnprocessedEventThreshold": activation,
                "storageAccountName": account,
                "blobContainer": container_name,
                "checkpointStrategy": "blobMetadata",
            },
        },
        {
            "EVENTHUB_FULLY_QUALIFIED_NAMESPACE": f"{hub_namespace}.servicebus.windows.net",
            "EVENTHUB_NAME": hub_name,
            "EVENTHUB_CONSUMER_GROUP": group,
            "CHECKPOINT_BLOB_ACCOUNT_URL": f"https://{account}.blob.core.windows.net",
            "CHECKPOINT_BLOB_CONTAINER": container_name,
        },
    )
    if action_group_id is None:
        return
    dimensions = [monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[hub_name])]
    on_hub = {
        "metric_namespace": "Microsoft.EventHub/namespaces",
        "dimensions": dimensions,
        "threshold": 0,
        "time_aggregation": "Total",
    }
    metric_alert(
        name,
        "incoming-unread",
        f"Event hub {hub_name} (job {name}) received events for {backlog_minutes} minutes and no consumer read any: "
        "is the scaler authorized, do executions start? See docs/event-sources.md, Event Hubs, Alerts.",
        namespace_id,
        [
            {"name": "incoming-events", "metric_name": "IncomingMessages", "operator": "GreaterThan", **on_hub},
            {"name": "no-outgoing-events", "metric_name": "OutgoingMessages", "operator": "LessThanOrEqual", **on_hub},
        ],
        "PT5M" if backlog_minutes >= 5 else "PT1M",
        backlog_window,
        backlog.get("severity", 2),
    )


for name, settings in config.get_object("eventJobs", {}).items():
    if "queue" in settings:
        service_bus_job(name, settings)
    elif "storageQueue" in settings:
        storage_queue_job(name, settings)
    else:
        event_hub_job(name, settings)
