"""An Event Hub as an event source: the stack creates the job's consumer group on a hub it only references, and the
checkpoint container in a storage account it only references; a KEDA `azure-eventhub` scale rule starts executions
as the consumer group's unprocessed events grow.

What the scaler reads (kedacore/keda v2.20.2 `pkg/scalers/azure_eventhub_scaler.go`, `pkg/scalers/azure/
azure_eventhub.go` `EventHubInfo`, `azure_eventhub_checkpoint.go`): per partition, the last enqueued sequence number
minus the checkpoint's `sequencenumber` blob metadata (`checkpointStrategy: blobMetadata`, the layout the Azure SDKs'
blob checkpoint store writes), summed, against `unprocessedEventThreshold` (our `messageCount`). A partition without
a checkpoint counts whole. The checkpoint blob is `<namespace>.<suffix>/<hub>/<consumer group, lower-cased>/
checkpoint/<partition>` (`blobMetadataCheckpointer.resolvePath`); the Python SDK's store lower-cases the whole path,
so the namespace and hub must be written in lower case for KEDA to find what the code writes.

Two identities, because the scaler and the code need different rights:
- the **scaler identity** (lifecycle `None`) holds **Azure Event Hubs Data Receiver** on this hub (partition
  properties) and **Storage Blob Data Reader** on the checkpoint container (the checkpoints' metadata);
- the **workload identity** (lifecycle `Main`) holds **Azure Event Hubs Data Receiver** on this hub and **Storage Blob
  Data Contributor** on the checkpoint container: it writes checkpoints after processing.

Alerts (when the stack alerts). Azure Monitor has **no consumer-group lag metric**: the namespace's metrics
(`Microsoft.EventHub/namespaces`, Microsoft Learn "Supported metrics for Microsoft.EventHub/namespaces") split by
`EntityName` (the hub) only, and the service never sees blob checkpoints (Azure-Samples/eventhub-custom-metrics-emitter
README: lag "is not available in event hub standard metrics"). What exists is offered as what it is:
- **Incoming without processing**: one rule on the namespace with two criteria on this hub, both to be met
  (`SingleResourceMultipleMetricCriteria` `allOf`, Azure/azure-rest-api-specs `metricAlert_API.json` 2018-03-01):
  `IncomingMessages` above 0 and `OutgoingMessages` at most 0 over `stuckBacklog.minutes`. `OutgoingMessages` counts
  every consumer group's reads, so another reader of the hub hides a stalled job; `checkpointsCommand` shows this
  group's own progress.

No connection-string fallback: both the hub and the checkpoint account accept the identity, and a fallback would need
the hub's SAS keys and the storage account's shared keys enabled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

import pulumi
from pulumi_azure_native import eventhub, monitor, storage
from pydantic import AfterValidator, model_validator
from pydantic_core import PydanticCustomError

from components.alerts import metric_alert, rule_name, window_of
from components.arm import known_after
from components.config import ConfigModel, PlatformFacts, parse_id_of_type, raise_all, rule_error
from components.event_sources import EventJobSettings, EventSource
from components.event_sources.storage_queue import InStorageAccount
from components.job_identity import RoleGrant
from policy.aca_facts.arm_id import ArmId
from policy.aca_facts.clouds import CLOUDS
from policy.aca_facts.roles import (
    EVENT_HUBS_DATA_RECEIVER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    BuiltInRole,
)
from policy.aca_facts.scalers import EVENT_HUB

if TYPE_CHECKING:
    from components.alerts import AlertRefs

CONSUMER_GROUP_TYPE = "azure-native:eventhub:ConsumerGroup"
BLOB_CONTAINER_TYPE = "azure-native:storage:BlobContainer"
NAMESPACE = "Microsoft.EventHub/namespaces"
HUB_TYPE = "Microsoft.EventHub/namespaces/eventhubs"
CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
# Microsoft Learn "Naming rules and restrictions for Azure resources", Microsoft.EventHub: a namespace has 6-50
# letters, digits and '-', starts with a letter and ends with a letter or digit; an event hub and a consumer group
# have letters, digits, '.', '-' and '_', start and end with a letter or digit (1-256 and 1-50 characters).
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$")
_HUB = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$")
_CONSUMER_GROUP = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?$")
# Blob container names (the 2024-01-01 spec's `containerName` description): 3-63 lower-case letters, digits and '-',
# every '-' between a letter or digit.
_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
DEFAULT_CONSUMER_GROUP = "$Default"
EVENT_HUB_METRICS = "Microsoft.EventHub/namespaces"
INCOMING_FREQUENCY = "PT5M"
LOWER_CASE_REASON = (
    "the checkpoint blob's path holds it, the Azure SDKs' checkpoint store writes that path in lower case and KEDA "
    "reads it as written here, so any upper case makes the scaler see no checkpoint and count every event again"
)
WORKLOAD_ENV = (
    "AZURE_CLIENT_ID",
    "EVENTHUB_FULLY_QUALIFIED_NAMESPACE",
    "EVENTHUB_NAME",
    "EVENTHUB_CONSUMER_GROUP",
    "CHECKPOINT_BLOB_ACCOUNT_URL",
    "CHECKPOINT_BLOB_CONTAINER",
)


def check_hub_name(name: str) -> str:
    if not _HUB.fullmatch(name):
        raise rule_error(
            f"`{name}` is not an event hub name",
            "use 1-256 letters, digits, '.', '-' and '_', starting and ending with a letter or digit",
        )
    if name != name.lower():
        raise rule_error(f"`{name}` has upper case: {LOWER_CASE_REASON}", f"write `{name.lower()}`")
    return name


def check_consumer_group(name: str) -> str:
    """Consumer group names compare case-insensitively (ARM names do, and KEDA and the SDKs lower-case them in the
    checkpoint path): the name is kept in lower case, so two spellings cannot be two resources for one group."""
    if name.lower() == DEFAULT_CONSUMER_GROUP.lower():
        raise rule_error(
            "`$Default` is every reader's group that names none, and the stack cannot create it; a job with its own "
            "consumer group keeps its own checkpoints",
            "name the job's own consumer group, e.g. `consumerGroup: <job name>`",
        )
    if not _CONSUMER_GROUP.fullmatch(name):
        raise rule_error(
            f"`{name}` is not a consumer group name",
            "use 1-50 letters, digits, '.', '-' and '_', starting and ending with a letter or digit",
        )
    return name.lower()


def check_container_name(name: str) -> str:
    if not _CONTAINER.fullmatch(name):
        raise rule_error(
            f"`{name}` is not a blob container name",
            "use 3-63 lower-case letters, digits and '-', each '-' between letters or digits",
        )
    return name


class CheckpointBlock(InStorageAccount):
    """Where the job's checkpoints are kept: a container the stack creates in a storage account it references."""

    container: Annotated[str, AfterValidator(check_container_name)]

    @property
    def container_id(self) -> str:
        """The container's ARM id: the narrowest scope blob data roles take."""
        return str(self.account.child("blobServices", "default").child("containers", self.container))


class EventHubBlock(ConfigModel):
    """The hub the job consumes (the stack references the namespace and the hub) with its own consumer group and
    checkpoint container (the stack creates both)."""

    namespace_id: str
    name: Annotated[str, AfterValidator(check_hub_name)]
    consumer_group: Annotated[str, AfterValidator(check_consumer_group)]
    checkpoint: CheckpointBlock

    @model_validator(mode="after")
    def _check(self) -> EventHubBlock:
        namespace = parse_id_of_type(
            self.namespace_id,
            "namespaceId",
            NAMESPACE,
            "an Event Hubs namespace",
            "az eventhubs namespace show -n <name> -g <rg> --query id -o tsv",
        )
        name = namespace.name or ""
        if not _NAMESPACE.fullmatch(name):
            raise rule_error(
                f"`{name}` is not an Event Hubs namespace name",
                "use the namespace's id as Azure prints it (6-50 letters, digits and '-', starting with a letter)",
                key="namespaceId",
            )
        if name != name.lower():
            raise rule_error(
                f"namespace `{name}` has upper case: {LOWER_CASE_REASON}",
                f"write the id with `namespaces/{name.lower()}` (ARM ids are case-insensitive: it is the same "
                "namespace)",
                key="namespaceId",
            )
        return self

    @property
    def namespace(self) -> ArmId:
        return ArmId.parse(self.namespace_id)

    @property
    def namespace_name(self) -> str:
        return self.namespace.name or ""

    @property
    def hub_id(self) -> str:
        """The hub's ARM id: the narrowest scope Event Hubs data roles take."""
        return str(self.namespace.child("eventhubs", self.name))


class EventHubJobConfig(EventJobSettings):
    """A job whose executions a KEDA `azure-eventhub` scale rule starts as its consumer group's unprocessed events
    grow."""

    SOURCE_KEY: ClassVar[str] = "eventHub"
    WORKLOAD_ENV: ClassVar[tuple[str, ...]] = WORKLOAD_ENV
    SOURCE_NOUN: ClassVar[str] = "hub"
    event_hub: EventHubBlock
    # The explicit opt-in to lose the checkpoints (the job would then read every retained event again): without it
    # the checkpoint container outlives the job (`retainOnDelete`).
    delete_checkpoints_with_job: bool = False

    def created_in(self) -> dict[str, str]:
        return {
            "eventHub.namespaceId": self.event_hub.namespace_id,
            "eventHub.checkpoint.accountId": self.event_hub.checkpoint.account_id,
        }

    def source_grants(self) -> list[tuple[BuiltInRole, str]]:
        hub = self.event_hub
        return [(EVENT_HUBS_DATA_RECEIVER, hub.hub_id), (STORAGE_BLOB_DATA_CONTRIBUTOR, hub.checkpoint.container_id)]

    @classmethod
    def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformFacts, key: str) -> None:
        problems: list[PydanticCustomError] = []
        readers: dict[tuple[ArmId, str], str] = {}
        containers: dict[ArmId, str] = {}
        for name, job in sorted(jobs.items()):
            hub = job.event_hub
            # Ids compare as ARM compares them (parsed, case-insensitively), never as text.
            group = (ArmId.parse(hub.hub_id), hub.consumer_group)
            if group in readers:
                problems.append(
                    rule_error(
                        f"consumer group `{hub.consumer_group}` of hub `{hub.name}` is already read by "
                        f"`{readers[group]}`; two jobs in one group would process the same events twice and "
                        "overwrite each other's checkpoints",
                        "give this job its own consumer group",
                        key=f"{key}.{name}.eventHub.consumerGroup",
                    )
                )
            else:
                readers[group] = name
            container = ArmId.parse(hub.checkpoint.container_id)
            if container in containers:
                problems.append(
                    rule_error(
                        f"checkpoint container `{hub.checkpoint.container}` is already `{containers[container]}`'s; "
                        "removing either job (with deleteCheckpointsWithJob) would delete the other's checkpoints",
                        "give this job its own container",
                        key=f"{key}.{name}.eventHub.checkpoint.container",
                    )
                )
            else:
                containers[container] = name
        raise_all(key, problems)


class EventHubSource(EventSource):
    SCALE_RULE_NAME: ClassVar[str] = "unprocessed-events"
    SCALE_RULE_TYPE: ClassVar[str] = EVENT_HUB.type
    # The consumer group holds no events (they stay in the hub until its retention ends): deleting it loses nothing.
    HOLDS: ClassVar[Mapping[str, str]] = {
        BLOB_CONTAINER_TYPE: "with the job's checkpoints (without them the job reads every retained event again)"
    }
    CONTAINED_IN: ClassVar[Mapping[str, str]] = {BLOB_CONTAINER_TYPE: "azure-native:storage:StorageAccount"}
    DELETE_WITH_JOB: ClassVar[str | None] = "deleteCheckpointsWithJob: true"
    config: EventHubJobConfig

    def create(self) -> None:
        hub = self.config.event_hub
        checkpoint = hub.checkpoint
        self.consumer_group = eventhub.ConsumerGroup(
            # Named after the hub and the group, not the job: renaming the job keeps them.
            f"consumer-group-{hub.namespace_name}-{hub.name}-{hub.consumer_group}",
            consumer_group_name=hub.consumer_group,
            event_hub_name=hub.name,
            namespace_name=hub.namespace_name,
            resource_group_name=hub.namespace.resource_group,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )
        self.container = storage.BlobContainer(
            f"checkpoint-container-{checkpoint.account_name}-{checkpoint.container}",
            container_name=checkpoint.container,
            account_name=checkpoint.account_name,
            resource_group_name=checkpoint.account.resource_group,
            public_access=storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(
                parent=self.parent,
                protect=self.platform.placement.protect,
                # Removing the job keeps its checkpoints unless `deleteCheckpointsWithJob: true` was deployed first
                # (pulumi/pulumi `pkg/resource/deploy/step.go` `DeleteStep.Apply`).
                retain_on_delete=not self.config.delete_checkpoints_with_job,
            ),
        )
        # Ids from config: the grants' scopes are known (and reviewable) in a first preview. The hub is referenced,
        # not created: the grant depends on the consumer group, created in it.
        self.hub_id = known_after(hub.hub_id, self.consumer_group)
        self.container_id = known_after(checkpoint.container_id, self.container)

    def scaler_grants(self) -> list[RoleGrant]:
        return [
            RoleGrant(EVENT_HUBS_DATA_RECEIVER, self.hub_id),
            RoleGrant(STORAGE_BLOB_DATA_READER, self.container_id),
        ]

    def code_grants(self) -> list[RoleGrant]:
        return [
            RoleGrant(EVENT_HUBS_DATA_RECEIVER, self.hub_id),
            RoleGrant(STORAGE_BLOB_DATA_CONTRIBUTOR, self.container_id),
        ]

    @classmethod
    def scaler_grant_count(cls, config: EventHubJobConfig) -> int:
        return 2

    @classmethod
    def code_grant_count(cls, config: EventHubJobConfig) -> int:
        return 2

    def scale_rule_metadata(self) -> dict[str, str]:
        hub = self.config.event_hub
        return {
            # Bare name: KEDA appends the cloud's Service Bus suffix.
            "eventHubNamespace": hub.namespace_name,
            "eventHubName": hub.name,
            "consumerGroup": hub.consumer_group,
            # KEDA metadata values are strings.
            "unprocessedEventThreshold": str(self.config.message_count),
            "activationUnprocessedEventThreshold": str(self.config.activation_message_count),
            "storageAccountName": hub.checkpoint.account_name,
            "blobContainer": hub.checkpoint.container,
            "checkpointStrategy": "blobMetadata",
        }

    @property
    def namespace_host(self) -> str:
        return self.config.event_hub.namespace_name + CLOUDS[self.platform.placement.cloud].service_bus_suffix

    @property
    def blob_account_url(self) -> str:
        account = self.config.event_hub.checkpoint.account_name
        return f"https://{account}.blob.{CLOUDS[self.platform.placement.cloud].storage_suffix}"

    def code_env(self) -> dict[str, pulumi.Input[str]]:
        # What `azure-eventhub`'s EventHubConsumerClient and `azure-eventhub-checkpointstoreblob`'s BlobCheckpointStore
        # need beside AZURE_CLIENT_ID, with no secret.
        hub = self.config.event_hub
        return {
            "EVENTHUB_FULLY_QUALIFIED_NAMESPACE": self.namespace_host,
            "EVENTHUB_NAME": hub.name,
            "EVENTHUB_CONSUMER_GROUP": hub.consumer_group,
            "CHECKPOINT_BLOB_ACCOUNT_URL": self.blob_account_url,
            "CHECKPOINT_BLOB_CONTAINER": hub.checkpoint.container,
        }

    def alerts(self, alerts: AlertRefs) -> dict[str, Any]:
        hub, backlog = self.config.event_hub, alerts.settings.stuck_backlog

        def on_this_hub(name: str, metric: str, operator: str) -> monitor.MetricCriteriaArgs:
            return monitor.MetricCriteriaArgs(
                criterion_type="StaticThresholdCriterion",
                name=name,
                metric_namespace=EVENT_HUB_METRICS,
                metric_name=metric,
                # Each criterion names the same one hub (no `*` with several criteria).
                dimensions=[monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[hub.name])],
                operator=operator,
                threshold=0,
                time_aggregation="Total",
            )

        unread = metric_alert(
            self.parent,
            f"{self.job_name}-incoming-unread",
            rule_name(self.job_name, "incoming-unread"),
            f"Event hub {hub.name} (job {self.job_name}) received events for {backlog.minutes} minutes and no "
            "consumer read any: is the scaler authorized, do executions start? See docs/event-sources.md, "
            "Event Hubs, Alerts.",
            [
                on_this_hub("incoming-events", "IncomingMessages", "GreaterThan"),
                on_this_hub("no-outgoing-events", "OutgoingMessages", "LessThanOrEqual"),
            ],
            INCOMING_FREQUENCY if backlog.minutes >= 5 else "PT1M",
            window_of(backlog.minutes),
            backlog.severity,
            hub.namespace_id,
            alerts,
        )
        return {"incomingUnreadAlertId": unread}

    def outputs(self) -> dict[str, Any]:
        hub = self.config.event_hub
        return {
            "eventHubId": self.hub_id,
            "eventHubName": hub.name,
            "consumerGroupName": known_after(hub.consumer_group, self.consumer_group),
            "checkpointContainerId": self.container_id,
            "namespaceHostName": self.namespace_host,
            "sendTestEventCommand": send_test_event_command(self.namespace_host, hub.name),
            "checkpointsCommand": checkpoints_command(
                hub.checkpoint.account_name, hub.checkpoint.container, self.namespace_host, hub.name, hub.consumer_group
            ),
        }


def send_test_event_command(namespace_host: str, hub: str) -> str:
    """Send one event with the operator's Entra ID (`az login`; needs Azure Event Hubs Data Sender on the hub). The
    Azure CLI has no data-plane send for Event Hubs, so this uses the `azure-eventhub` SDK:
    `pip install azure-eventhub azure-identity`."""
    code = (
        "from azure.identity import DefaultAzureCredential; "
        "from azure.eventhub import EventData, EventHubProducerClient; "
        f"client = EventHubProducerClient('{namespace_host}', '{hub}', DefaultAzureCredential()); "
        "batch = client.create_batch(); batch.add(EventData('{\\\"test\\\": true}')); client.send_batch(batch); "
        "client.close()"
    )
    return f'python -c "{code}"'


def checkpoints_command(account: str, container: str, namespace_host: str, hub: str, consumer_group: str) -> str:
    """List the consumer group's checkpoints (one blob per partition, its `sequencenumber` in the blob's metadata) with
    the operator's Entra ID (needs Storage Blob Data Reader on the container)."""
    prefix = f"{namespace_host}/{hub}/{consumer_group}/checkpoint/".lower()
    return (
        f"az storage blob list --account-name {account} --container-name {container} --auth-mode login "
        f"--prefix {prefix} --include m "
        '--query "[].{partition:name, sequenceNumber:metadata.sequencenumber}" -o table'
    )
