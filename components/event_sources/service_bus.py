"""A Service Bus queue as an event source: the stack creates the queue in the platform's namespace, and a KEDA
`azure-servicebus` scale rule starts executions as its backlog grows.

Two identities, because the scaler and the code need different rights:
- the **scaler identity** (lifecycle `None`) is the scale rule's identity. KEDA reads the queue's active-message
  count through the Service Bus *administration* API, which needs Manage rights, so it holds Azure Service Bus
  **Data Owner** on this queue only. No container can take tokens for it.
- the **workload identity** (lifecycle `Main`) is what the job's code runs as (`AZURE_CLIENT_ID`), with
  Azure Service Bus **Data Receiver** on this queue only: it can receive and settle, never manage.

Alerts (metric alerts on the namespace, Microsoft Learn "Supported metrics for Microsoft.ServiceBus/namespaces":
`DeadletteredMessages` and `ActiveMessages`, both with the `EntityName` dimension = the queue):
- **Dead letters**: `DeadletteredMessages` of the job's queue above 0: a message the job could not handle
  `maxDeliveryCount` times, or that expired.
- **Stuck backlog**: `ActiveMessages` of the queue never below the threshold for `minutes`: a scaler that cannot
  authenticate starts no execution and fails none, so only the backlog shows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self

import pulumi
from pulumi_azure_native import app, monitor, servicebus
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from components.alerts import metric_alert, rule_name, window_of
from components.arm import known_after, resource_id
from components.config import PLATFORM_KEY, PlatformFacts, duration_seconds, raise_all, rule_error
from components.event_sources import EventJobSettings, EventSource
from components.job_identity import RoleGrant
from components.naming import SERVICE_BUS_DATA_OWNER, SERVICE_BUS_DATA_RECEIVER
from components.platform_contract import ServiceBusContract
from policy.aca_facts.scalers import SERVICE_BUS

if TYPE_CHECKING:
    from components.alerts import AlertRefs
    from components.job_identity import JobIdentity
    from components.platform import PlatformRefs

QUEUE = "azure-native:servicebus:Queue"

# --- the config block -----------------------------------------------------------------------------------

_QUEUE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9])?$")
LOCK_DURATION_MAX_SECONDS = 300
# Basic namespaces keep messages at most 14 days (Azure/azure-service-bus issue 306).
BASIC_TTL_MAX_SECONDS = 14 * 86400
# Environment variables the event job sets for the workload; a user value would silently override them.
WORKLOAD_ENV = ("AZURE_CLIENT_ID", "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE", "SERVICEBUS_QUEUE_NAME")
# The job secret the connection-string fallback keeps the scaler's SAS connection in.
CONNECTION_SECRET = "servicebus-connection"


def check_queue_name(name: str) -> str:
    """Service Bus entity names are case-insensitive: `Orders` and `orders` are one queue. The name is kept in
    lower case, so that two spellings cannot become two resources (and two scalers) for one queue, and changing
    only the case changes nothing (no new logical name, no replacement)."""
    if not _QUEUE.fullmatch(name):
        raise rule_error(
            f"`{name}` is not a Service Bus queue name",
            "use 1-260 letters, digits, '.', '-' and '_', starting and ending with a letter or digit",
        )
    return name.lower()


class ServiceBusJobConfig(EventJobSettings):
    """A job whose executions a KEDA `azure-servicebus` scale rule starts as the queue backlog grows."""

    SOURCE_KEY: ClassVar[str] = "queue"
    WORKLOAD_ENV: ClassVar[tuple[str, ...]] = WORKLOAD_ENV
    SOURCE_NOUN: ClassVar[str] = "queue"
    queue: Annotated[str, AfterValidator(check_queue_name)]
    # `connectionString` is the visible, weaker fallback: a SAS rule and a secret instead of an identity.
    auth: Literal["managedIdentity", "connectionString"] = "managedIdentity"
    max_delivery_count: Annotated[int, Field(ge=1)] = 10
    lock_duration: str = "PT1M"
    message_time_to_live: str | None = None
    # The explicit opt-in to lose messages: without it the queue outlives its job (`retainOnDelete`; README
    # "Removing an event job"). It must be deployed before the job is removed: the engine reads it from the state.
    delete_queue_with_job: bool = False

    def rule_problems(self) -> list[PydanticCustomError]:
        problems = super().rule_problems()
        lock = duration_seconds(self.lock_duration)
        if lock is None or not 0 < lock <= LOCK_DURATION_MAX_SECONDS:
            problems.append(
                rule_error(
                    f"lockDuration `{self.lock_duration}` is not an ISO-8601 duration up to PT5M",
                    "use e.g. `PT30S`, `PT1M` or `PT5M` (Service Bus allows at most 5 minutes; renew the lock "
                    "from code for longer work)",
                    key="lockDuration",
                )
            )
        if self.message_time_to_live is not None:
            ttl = duration_seconds(self.message_time_to_live)
            if ttl is None or ttl <= 0:
                problems.append(
                    rule_error(
                        f"messageTimeToLive `{self.message_time_to_live}` is not an ISO-8601 duration",
                        "use e.g. `P14D` or `PT12H`",
                        key="messageTimeToLive",
                    )
                )
        if CONNECTION_SECRET in self.secrets:
            problems.append(
                rule_error(
                    f"`{CONNECTION_SECRET}` is the secret the event job keeps its scaler's connection string in",
                    "give this secret another name",
                    key=f"secrets.{CONNECTION_SECRET}",
                )
            )
        return problems

    def check_access_against_own_grants(self, platform: PlatformFacts, key: str) -> list[PydanticCustomError]:
        """The workload identity already holds Service Bus Data Receiver on the job's queue; an `azureAccess` entry
        for the same role on the same queue would be a second resource for one Azure role assignment (the same
        derived name: the create fails, and removing one later deletes the other's grant). The subscription is the
        deploying one, known only when the program runs, so the queue is matched by resource group, namespace and
        name."""
        namespace = platform.service_bus_name
        problems: list[PydanticCustomError] = []
        for index, grant in enumerate(self.azure_access):
            scope = grant.scope_id
            if (
                grant.built_in_role == SERVICE_BUS_DATA_RECEIVER
                and scope.is_type("Microsoft.ServiceBus/namespaces/queues")
                and (scope.resource_group or "").lower() == (platform.service_bus_resource_group or "").lower()
                and (scope.name_of("namespaces") or "").lower() == namespace
                and (scope.name or "").lower() == self.queue
            ):
                problems.append(
                    rule_error(
                        f"repeats the grant the event job already makes: {key}.queue gives the job's code "
                        f"`{grant.role}` on queue `{self.queue}`",
                        "remove this azureAccess item",
                        key=f"{key}.azureAccess.{index}",
                    )
                )
        return problems

    @classmethod
    def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformFacts, key: str) -> None:
        if platform.service_bus_name is None:
            if platform.where == PLATFORM_KEY:
                raise rule_error(
                    f"is required when {key} has jobs",
                    f"add `serviceBus: {{namespace: <name>, sku: Standard}}` under {PLATFORM_KEY}",
                    key=f"{PLATFORM_KEY}.serviceBus",
                )
            raise rule_error(
                f"event jobs need a Service Bus namespace, and {platform.where} has none",
                "ask the platform team to add `serviceBus` to the platform stack, or move these jobs to another kind",
                key=key,
            )
        problems: list[PydanticCustomError] = []
        for name, job in sorted(jobs.items()):
            problems.extend(job.check_access_against_own_grants(platform, f"{key}.{name}"))
        owners: dict[str, str] = {}
        for name, job in sorted(jobs.items()):
            if job.queue in owners:
                problems.append(
                    rule_error(
                        f"queue `{job.queue}` is already consumed by `{owners[job.queue]}`; two jobs on one "
                        "queue would compete for its messages and double-count its backlog",
                        "give this job its own queue",
                        key=f"{key}.{name}.queue",
                    )
                )
                continue
            owners[job.queue] = name
        if platform.local_auth_allowed is False:
            for name, job in sorted(jobs.items()):
                if job.needs_service_bus_local_auth:
                    problems.append(
                        rule_error(
                            f"`auth: connectionString` needs SAS keys, and {platform.where}'s namespace has local auth "
                            "off",
                            "use `auth: managedIdentity`",
                            key=f"{key}.{name}.auth",
                        )
                    )
        if platform.service_bus_sku == "Basic":
            for name, job in sorted(jobs.items()):
                ttl = duration_seconds(job.message_time_to_live) if job.message_time_to_live else None
                if ttl is not None and ttl > BASIC_TTL_MAX_SECONDS:
                    problems.append(
                        rule_error(
                            f"messageTimeToLive `{job.message_time_to_live}` is above 14 days, which a Basic namespace "
                            "refuses (ARM: 'must be between 00:00:01 and 14.00:00:00 when the namespace ... is using "
                            "Basic tier')",
                            f"use at most `P14D`, or `sku: Standard` under {platform.where}.serviceBus",
                            key=f"{key}.{name}.messageTimeToLive",
                        )
                    )
        raise_all(key, problems)

    def warnings(self, name: str) -> list[str]:
        if self.auth != "connectionString":
            return super().warnings(name)
        return [
            *super().warnings(name),
            f"event job `{name}` uses `auth: connectionString`: its scaler reads queue `{self.queue}` with a SAS key "
            "kept as a job secret, and the Service Bus namespace keeps local (SAS) auth enabled. Prefer "
            "`auth: managedIdentity`.",
        ]

    @property
    def needs_service_bus_local_auth(self) -> bool:
        return self.auth == "connectionString"


# --- the source -----------------------------------------------------------------------------------------

SERVICE_BUS_METRICS = "Microsoft.ServiceBus/namespaces"
DEAD_LETTER_FREQUENCY, DEAD_LETTER_WINDOW = "PT5M", "PT15M"
BACKLOG_FREQUENCY = "PT5M"
# The scaler's admin-API read needs Manage; ARM requires Listen and Send alongside Manage.
SCALER_SAS_RIGHTS = [
    servicebus.AccessRights.LISTEN,
    servicebus.AccessRights.SEND,
    servicebus.AccessRights.MANAGE,
]


def send_test_message_command(namespace_host: str, queue: str) -> str:
    """Send one message through the Service Bus REST API with the caller's Entra ID token (the caller needs
    Azure Service Bus Data Sender on the queue; local auth is off, so there is no SAS alternative)."""
    return (
        f'az rest --method post --url "https://{namespace_host}/{queue}/messages" '
        '--resource "https://servicebus.azure.net" --headers "Content-Type=application/json" '
        """--body '{"test": true}'"""
    )


def dead_letter_path(queue: str) -> str:
    """The queue's dead-letter sub-queue, as Service Bus names it."""
    return f"{queue}/$DeadLetterQueue"


def dead_letter_peek_command(namespace_host: str, queue: str) -> str:
    """Peek (read without locking or removing) up to 10 dead-lettered messages with the operator's Entra ID
    (`az login`; needs Azure Service Bus Data Receiver on the queue). The Service Bus REST API has no peek (only
    peek-lock), so this uses the `azure-servicebus` SDK: `pip install azure-servicebus azure-identity`."""
    code = (
        "from azure.identity import DefaultAzureCredential; "
        "from azure.servicebus import ServiceBusClient, ServiceBusSubQueue; "
        f"client = ServiceBusClient('{namespace_host}', DefaultAzureCredential()); "
        f"receiver = client.get_queue_receiver('{queue}', sub_queue=ServiceBusSubQueue.DEAD_LETTER); "
        "[print(m.sequence_number, m.enqueued_time_utc, m.dead_letter_reason, m.dead_letter_error_description, "
        "str(m)) for m in receiver.peek_messages(max_message_count=10)]"
    )
    return f'python -c "{code}"'


def _queue_dimension(queue: str) -> monitor.MetricDimensionArgs:
    return monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[queue])


def queue_alerts(
    parent: pulumi.Resource, job_name: str, queue: str, namespace_id: pulumi.Input[str], alerts: AlertRefs
) -> dict[str, pulumi.Output[str]]:
    """The dead-letter and stuck-backlog metric alerts on the job's queue; returns their ids as job outputs."""
    backlog = alerts.settings.stuck_backlog
    dead_letters = metric_alert(
        parent,
        f"{job_name}-dead-letters",
        rule_name(job_name, "dead-letters"),
        f"Queue {queue} (job {job_name}) holds dead-lettered messages. See docs/operations.md, 'Dead letters'.",
        monitor.MetricCriteriaArgs(
            criterion_type="StaticThresholdCriterion",
            name="dead-lettered-messages",
            metric_namespace=SERVICE_BUS_METRICS,
            metric_name="DeadletteredMessages",
            dimensions=[_queue_dimension(queue)],
            operator="GreaterThan",
            threshold=0,
            time_aggregation="Maximum",
        ),
        DEAD_LETTER_FREQUENCY,
        DEAD_LETTER_WINDOW,
        alerts.settings.dead_letters.severity,
        namespace_id,
        alerts,
    )
    stuck = metric_alert(
        parent,
        f"{job_name}-stuck-backlog",
        rule_name(job_name, "backlog"),
        f"Queue {queue} (job {job_name}) kept more than {backlog.threshold} active messages for {backlog.minutes} "
        "minutes: executions are not draining it (is the scaler authorized?). See docs/operations.md.",
        monitor.MetricCriteriaArgs(
            criterion_type="StaticThresholdCriterion",
            name="active-messages",
            metric_namespace=SERVICE_BUS_METRICS,
            metric_name="ActiveMessages",
            dimensions=[_queue_dimension(queue)],
            operator="GreaterThan",
            threshold=backlog.threshold,
            # The lowest count in the window above the threshold: the backlog never went down to it.
            time_aggregation="Minimum",
        ),
        BACKLOG_FREQUENCY,
        window_of(backlog.minutes),
        backlog.severity,
        namespace_id,
        alerts,
    )
    return {"deadLetterAlertId": dead_letters, "stuckBacklogAlertId": stuck}


class ServiceBusQueueSource(EventSource):
    SCALE_RULE_NAME: ClassVar[str] = "queue-backlog"
    SCALE_RULE_TYPE: ClassVar[str] = SERVICE_BUS.type
    HOLDS: ClassVar[Mapping[str, str]] = {QUEUE: "with its messages and dead letters"}
    # A namespace's queues are its child resources.
    CONTAINED_IN: ClassVar[Mapping[str, str]] = {QUEUE: "azure-native:servicebus:Namespace"}
    DELETE_WITH_JOB: ClassVar[str | None] = "deleteQueueWithJob: true"
    config: ServiceBusJobConfig
    queue: servicebus.Queue
    queue_id: pulumi.Output[str]
    scaler_rule: servicebus.QueueAuthorizationRule | None

    def __init__(self, parent: pulumi.Resource, job_name: str, config: ServiceBusJobConfig, platform: PlatformRefs):
        super().__init__(parent, job_name, config, platform)
        bus = platform.contract.service_bus
        if bus is None:  # guaranteed by StackConfig; a programming error otherwise
            raise ValueError("a Service Bus event job needs a platform with a Service Bus namespace")
        self.bus: ServiceBusContract = bus
        self.uses_identity = config.auth == "managedIdentity"
        self.scaler_rule = None

    def create(self) -> None:
        config, bus = self.config, self.bus
        self.queue = servicebus.Queue(
            # Named after the queue, not the job: renaming the job keeps the queue's URN (and its messages).
            f"queue-{config.queue}",
            # Stable physical name from config.
            queue_name=config.queue,
            namespace_name=bus.namespace_name,
            # The queue lives in the namespace, so in the namespace's resource group.
            resource_group_name=bus.resource_group_name,
            max_delivery_count=config.max_delivery_count,
            lock_duration=config.lock_duration,
            default_message_time_to_live=config.message_time_to_live,
            # Expired messages are kept for inspection and replay instead of silently dropped.
            dead_lettering_on_message_expiration=True,
            opts=pulumi.ResourceOptions(
                parent=self.parent,
                protect=self.platform.placement.protect,
                # Removing the job from config must not delete the queue's messages and dead letters: a retained
                # resource that leaves the program is only dropped from the state (pulumi/pulumi
                # `pkg/resource/deploy/step.go` `DeleteStep.Apply`: "Deleting a 'drop on delete' is a no-op").
                # The engine reads the option from the *old* state, so `deleteQueueWithJob: true` must be
                # deployed before the job is removed (README "Removing an event job").
                retain_on_delete=not config.delete_queue_with_job,
            ),
        )
        # The queue's id from config names: the grants' scope is then known (and reviewable) in a first preview.
        self.queue_id = known_after(
            resource_id(
                bus.subscription_id,
                bus.resource_group,
                "Microsoft.ServiceBus",
                "namespaces",
                bus.namespace,
                "queues",
                config.queue,
            ),
            self.queue,
        )
        if not self.uses_identity:
            self.scaler_rule = self._scaler_sas_rule()

    def scaler_grants(self) -> list[RoleGrant]:
        # With the connection-string fallback the scaler reads the queue with a SAS key instead.
        return [RoleGrant(SERVICE_BUS_DATA_OWNER, self.queue_id)] if self.uses_identity else []

    def code_grants(self) -> list[RoleGrant]:
        return [RoleGrant(SERVICE_BUS_DATA_RECEIVER, self.queue_id)]

    @classmethod
    def scaler_grant_count(cls, config: ServiceBusJobConfig) -> int:
        return 1 if config.auth == "managedIdentity" else 0

    @classmethod
    def code_grant_count(cls, config: ServiceBusJobConfig) -> int:
        return 1

    def scale_rule_metadata(self) -> dict[str, str]:
        return {
            "queueName": self.config.queue,
            # Bare name: with an identity KEDA appends `.servicebus.windows.net` itself.
            SERVICE_BUS.host_metadata_key: self.bus.namespace_name,  # type: ignore[dict-item]
            # KEDA metadata values are strings.
            "messageCount": str(self.config.message_count),
            "activationMessageCount": str(self.config.activation_message_count),
        }

    def scale_rule(self, scaler_identity: JobIdentity) -> app.JobScaleRuleArgs:
        if self.uses_identity:
            return super().scale_rule(scaler_identity)
        return app.JobScaleRuleArgs(
            name=self.SCALE_RULE_NAME,
            type=self.SCALE_RULE_TYPE,
            metadata=self.metadata(),
            auth=[
                app.ScaleRuleAuthArgs(secret_ref=CONNECTION_SECRET, trigger_parameter=SERVICE_BUS.connection_parameter)
            ],
        )

    def code_env(self) -> dict[str, pulumi.Input[str]]:
        # What DefaultAzureCredential and the Service Bus SDK need beside AZURE_CLIENT_ID, with no secret.
        return {
            "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE": self.bus.host_name,
            "SERVICEBUS_QUEUE_NAME": self.config.queue,
        }

    def secrets(self) -> list[app.SecretArgs]:
        return [] if self.scaler_rule is None else [self._connection_secret()]

    def alerts(self, alerts: AlertRefs) -> dict[str, Any]:
        return queue_alerts(self.parent, self.job_name, self.config.queue, self.bus.namespace_id, alerts)

    def outputs(self) -> dict[str, Any]:
        queue, host = self.config.queue, self.bus.host_name
        return {
            "deadLetterPath": dead_letter_path(queue),
            "deadLetterPeekCommand": dead_letter_peek_command(host, queue),
            "queueId": self.queue_id,
            "queueName": known_after(queue, self.queue),
            "namespaceHostName": host,
            "sendTestMessageCommand": send_test_message_command(host, queue),
        }

    def _scaler_sas_rule(self) -> servicebus.QueueAuthorizationRule:
        # Fallback only: a SAS rule on this queue alone, never on the namespace.
        return servicebus.QueueAuthorizationRule(
            f"{self.job_name}-scaler",
            authorization_rule_name="keda-scaler",
            queue_name=known_after(self.config.queue, self.queue),
            namespace_name=self.bus.namespace_name,
            resource_group_name=self.bus.resource_group_name,
            rights=SCALER_SAS_RIGHTS,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )

    def _connection_secret(self) -> app.SecretArgs:
        assert self.scaler_rule is not None
        keys = servicebus.list_queue_keys_output(
            authorization_rule_name=self.scaler_rule.name,
            queue_name=self.queue.name,
            namespace_name=self.bus.namespace_name,
            resource_group_name=self.bus.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self.parent),
        )
        return app.SecretArgs(name=CONNECTION_SECRET, value=pulumi.Output.secret(keys.primary_connection_string))
