"""An Azure Storage queue as an event source: the stack creates the queue (and its poison queue) in a storage account
it only references, and a KEDA `azure-queue` scale rule starts executions as the queue's backlog grows.

What the scaler reads (kedacore/keda v2.20.2 `pkg/scalers/azure_queue_scaler.go`): metadata `accountName` (required
with an identity), `queueName`, `queueLength` (messages per execution, our `messageCount`), `activationQueueLength`;
the count is the queue's `ApproximateMessagesCount` from Get Queue Metadata (`queueLengthStrategy: all`, the default,
kept: messages an execution holds invisible still count, and the job's running executions are subtracted from what
the scaler asks for, so in-flight work is not started twice nor forgotten).

Two identities, because the scaler and the code need different rights:
- the **scaler identity** (lifecycle `None`) holds **Storage Queue Data Reader** on this queue only: Get Queue
  Metadata needs `queueServices/queues/read` (Message Processor lacks it);
- the **workload identity** (lifecycle `Main`) holds **Storage Queue Data Message Processor** on this queue (receive
  and delete, never send or manage) and **Storage Queue Data Message Sender** on the poison queue only.

Storage queues have no dead-letter queue. The established convention (Azure Functions queue trigger, Microsoft Learn
"Azure Queue storage trigger for Azure Functions", poison messages) is a `<queue>-poison` queue that a consumer moves a
message to once its `dequeueCount` passes a limit (`maxDequeueCount`, 5 by default there). The stack creates that
queue beside the job's queue and tells the code its name and the limit (env), so a message the code cannot handle is
kept, never deleted nor retried forever.

Alerts (when the stack alerts). Azure Monitor has **no per-queue metric** for storage queues: `QueueMessageCount` of
`Microsoft.Storage/storageAccounts/queueServices` counts every queue of the account, has no dimension, a PT1H grain
and is refreshed up to daily (Microsoft Learn "Supported metrics for Microsoft.Storage/storageAccounts/
queueServices"; "Monitor message counts in each queue" in `storage/queues/queues-storage-monitoring-scenarios.md`
points to Get Queue Metadata for one queue). What exists is offered as what it is:
- **Account backlog** (slow backstop): `QueueMessageCount` of the account above `stuckBacklog.threshold` on
  average over six hours, evaluated hourly. Account-wide (another queue's backlog fires it too) and hours late; it
  catches a scaler that never starts an execution, not a short stall. `peekCommand` shows the job's own queue.
- **Poison messages**: no metric either; a log search alert would need the account's resource logs
  (`StorageQueueLogs`, a diagnostic setting on an account the stack does not own). `poisonPeekCommand` shows them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

import pulumi
from pulumi_azure_native import monitor, storage
from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from components.alerts import metric_alert, rule_name
from components.arm import known_after
from components.config import ConfigModel, PlatformFacts, parse_id_of_type, raise_all, rule_error
from components.event_sources import EventJobSettings, EventSource
from components.job_identity import RoleGrant
from policy.aca_facts.arm_id import ArmId
from policy.aca_facts.clouds import CLOUDS
from policy.aca_facts.roles import (
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR,
    STORAGE_QUEUE_DATA_MESSAGE_SENDER,
    STORAGE_QUEUE_DATA_READER,
    BuiltInRole,
)
from policy.aca_facts.scalers import STORAGE_QUEUE

if TYPE_CHECKING:
    from components.alerts import AlertRefs

STORAGE_QUEUE_TYPE = "azure-native:storage:Queue"
STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts"
QUEUE_TYPE = "Microsoft.Storage/storageAccounts/queueServices/queues"
ACCOUNT_LOOKUP = "az storage account show -n <name> -g <rg> --query id -o tsv"
# Microsoft Learn "Naming Queues and Metadata" (and the 2024-01-01 spec's `queueName` description): 3-63 characters,
# lower-case letters, digits and '-', starting and ending with a letter or digit, no '--'.
_QUEUE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
# Storage account names: 3-24 lower-case letters and digits (the spec's `accountName` description).
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
POISON_SUFFIX = "-poison"
QUEUE_SERVICE_METRICS = "Microsoft.Storage/storageAccounts/queueServices"
# `QueueMessageCount` has a PT1H grain: hourly evaluation over six hours of it.
ACCOUNT_BACKLOG_FREQUENCY, ACCOUNT_BACKLOG_WINDOW = "PT1H", "PT6H"
# Azure Functions' default `maxDequeueCount` (host.json `queues.maxDequeueCount`).
DEFAULT_MAX_DEQUEUE_COUNT = 5
# Environment variables the job sets for its code; a user value would silently override them.
WORKLOAD_ENV = (
    "AZURE_CLIENT_ID",
    "STORAGE_QUEUE_ACCOUNT_URL",
    "STORAGE_QUEUE_NAME",
    "STORAGE_QUEUE_POISON_NAME",
    "STORAGE_QUEUE_MAX_DEQUEUE_COUNT",
)


def check_storage_queue_name(name: str) -> str:
    if not _QUEUE.fullmatch(name) or "--" in name:
        raise rule_error(
            f"`{name}` is not a storage queue name",
            "use 3-63 lower-case letters, digits and '-', starting and ending with a letter or digit, with no '--' "
            "(Azure's rule for queue names)",
        )
    if len(name) + len(POISON_SUFFIX) > 63:
        raise rule_error(
            f"`{name}` leaves no room for its poison queue `{name}{POISON_SUFFIX}` (queue names have at most 63 "
            "characters)",
            f"use a name of at most {63 - len(POISON_SUFFIX)} characters",
        )
    return name


def parse_account_id(text: str, key: str) -> ArmId:
    account = parse_id_of_type(text, key, STORAGE_ACCOUNT, "a storage account", ACCOUNT_LOOKUP)
    if not _ACCOUNT.fullmatch(account.name or ""):
        raise rule_error(
            f"`{account.name}` is not a storage account name",
            "use the account's id as Azure prints it: its name is 3-24 lower-case letters and digits",
            key=key,
        )
    return account


class InStorageAccount(ConfigModel):
    """A block naming an existing storage account (`accountId`) in which the stack creates an entity."""

    account_id: str

    @model_validator(mode="after")
    def _check_account(self) -> Self:
        parse_account_id(self.account_id, "accountId")
        return self

    @property
    def account(self) -> ArmId:
        return ArmId.parse(self.account_id)

    @property
    def account_name(self) -> str:
        return self.account.name or ""


class StorageQueueBlock(InStorageAccount):
    """The queue the job consumes, in a storage account the stack references (it creates only the queues)."""

    queue: Annotated[str, AfterValidator(check_storage_queue_name)]

    def queue_id(self, queue: str) -> str:
        """The queue's ARM id: the narrowest scope its data roles take (Microsoft Learn "Assign an Azure role for
        access to queue data": `.../storageAccounts/<account>/queueServices/default/queues/<queue>`)."""
        return str(self.account.child("queueServices", "default").child("queues", queue))


class StorageQueueJobConfig(EventJobSettings):
    """A job whose executions a KEDA `azure-queue` scale rule starts as the storage queue's backlog grows."""

    SOURCE_KEY: ClassVar[str] = "storageQueue"
    WORKLOAD_ENV: ClassVar[tuple[str, ...]] = WORKLOAD_ENV
    SOURCE_NOUN: ClassVar[str] = "queue"
    storage_queue: StorageQueueBlock
    # How many times a message may be received before the code moves it to the poison queue (told through env).
    max_dequeue_count: Annotated[int, Field(ge=1)] = DEFAULT_MAX_DEQUEUE_COUNT
    # The explicit opt-in to lose messages: without it the queues outlive the job (`retainOnDelete`).
    delete_queue_with_job: bool = False

    def created_in(self) -> dict[str, str]:
        return {"storageQueue.accountId": self.storage_queue.account_id}

    def source_grants(self) -> list[tuple[BuiltInRole, str]]:
        block = self.storage_queue
        return [
            (STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR, block.queue_id(block.queue)),
            (STORAGE_QUEUE_DATA_MESSAGE_SENDER, block.queue_id(block.queue + POISON_SUFFIX)),
        ]

    @classmethod
    def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformFacts, key: str) -> None:
        problems: list[PydanticCustomError] = []
        owners: dict[tuple[ArmId, str], str] = {}
        for name, job in sorted(jobs.items()):
            # Ids compare as ARM compares them (case-insensitively, parsed), never as text.
            queue = (job.storage_queue.account, job.storage_queue.queue)
            if queue in owners:
                problems.append(
                    rule_error(
                        f"queue `{job.storage_queue.queue}` of account `{job.storage_queue.account_name}` is already "
                        f"consumed by `{owners[queue]}`; two jobs on one queue would compete for its messages and "
                        "double-count its backlog",
                        "give this job its own queue",
                        key=f"{key}.{name}.storageQueue.queue",
                    )
                )
                continue
            owners[queue] = name
        raise_all(key, problems)


class StorageQueueSource(EventSource):
    SCALE_RULE_NAME: ClassVar[str] = "storage-queue-backlog"
    SCALE_RULE_TYPE: ClassVar[str] = STORAGE_QUEUE.type
    HOLDS: ClassVar[Mapping[str, str]] = {STORAGE_QUEUE_TYPE: "with its messages"}
    # A storage account's queues are its (queue service's) child resources.
    CONTAINED_IN: ClassVar[Mapping[str, str]] = {STORAGE_QUEUE_TYPE: "azure-native:storage:StorageAccount"}
    DELETE_WITH_JOB: ClassVar[str | None] = "deleteQueueWithJob: true"
    config: StorageQueueJobConfig

    def create(self) -> None:
        block = self.config.storage_queue
        self.queue_id = self._queue(block.queue)
        self.poison_queue_id = self._queue(block.queue + POISON_SUFFIX)

    def _queue(self, name: str) -> pulumi.Output[str]:
        block = self.config.storage_queue
        queue = storage.Queue(
            # Named after the account and the queue, not the job: renaming the job keeps the queue's URN (and its
            # messages).
            f"storage-queue-{block.account_name}-{name}",
            queue_name=name,
            account_name=block.account_name,
            resource_group_name=block.account.resource_group,
            opts=pulumi.ResourceOptions(
                parent=self.parent,
                protect=self.platform.placement.protect,
                # As the Service Bus queue: removing the job keeps the queue and its messages unless
                # `deleteQueueWithJob: true` was deployed first (pulumi/pulumi `pkg/resource/deploy/step.go`
                # `DeleteStep.Apply`: "Deleting a 'drop on delete' is a no-op").
                retain_on_delete=not self.config.delete_queue_with_job,
            ),
        )
        # The id from config: the grants' scope is known (and reviewable) in a first preview.
        return known_after(block.queue_id(name), queue)

    def scaler_grants(self) -> list[RoleGrant]:
        return [RoleGrant(STORAGE_QUEUE_DATA_READER, self.queue_id)]

    def code_grants(self) -> list[RoleGrant]:
        return [
            RoleGrant(STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR, self.queue_id),
            RoleGrant(STORAGE_QUEUE_DATA_MESSAGE_SENDER, self.poison_queue_id),
        ]

    @classmethod
    def scaler_grant_count(cls, config: StorageQueueJobConfig) -> int:
        return 1

    @classmethod
    def code_grant_count(cls, config: StorageQueueJobConfig) -> int:
        return 2

    def scale_rule_metadata(self) -> dict[str, str]:
        block = self.config.storage_queue
        return {
            "accountName": block.account_name,
            "queueName": block.queue,
            # KEDA metadata values are strings.
            "queueLength": str(self.config.message_count),
            "activationQueueLength": str(self.config.activation_message_count),
        }

    @property
    def account_url(self) -> str:
        return f"https://{self.config.storage_queue.account_name}.queue.{CLOUDS[self.platform.placement.cloud].storage_suffix}"

    def code_env(self) -> dict[str, pulumi.Input[str]]:
        # What DefaultAzureCredential and `azure-storage-queue`'s QueueClient(account_url, queue_name, credential)
        # need beside AZURE_CLIENT_ID, with no secret.
        block = self.config.storage_queue
        return {
            "STORAGE_QUEUE_ACCOUNT_URL": self.account_url,
            "STORAGE_QUEUE_NAME": block.queue,
            "STORAGE_QUEUE_POISON_NAME": block.queue + POISON_SUFFIX,
            "STORAGE_QUEUE_MAX_DEQUEUE_COUNT": str(self.config.max_dequeue_count),
        }

    def alerts(self, alerts: AlertRefs) -> dict[str, Any]:
        block, backlog = self.config.storage_queue, alerts.settings.stuck_backlog
        account_backlog = metric_alert(
            self.parent,
            f"{self.job_name}-account-backlog",
            rule_name(self.job_name, "account-backlog"),
            f"Storage account {block.account_name} (job {self.job_name}, queue {block.queue}) held more than "
            f"{backlog.threshold} messages in its queues for 6 hours. Account-wide and refreshed up to daily: check "
            "the job's queue with its peekCommand output. See docs/event-sources.md, Storage Queue, Alerts.",
            monitor.MetricCriteriaArgs(
                criterion_type="StaticThresholdCriterion",
                name="queue-message-count",
                metric_namespace=QUEUE_SERVICE_METRICS,
                metric_name="QueueMessageCount",
                operator="GreaterThan",
                threshold=backlog.threshold,
                # The metric's only aggregation: the mean of the window's hourly values.
                time_aggregation="Average",
            ),
            ACCOUNT_BACKLOG_FREQUENCY,
            ACCOUNT_BACKLOG_WINDOW,
            backlog.severity,
            str(block.account.child("queueServices", "default")),
            alerts,
        )
        return {"accountBacklogAlertId": account_backlog}

    def outputs(self) -> dict[str, Any]:
        block = self.config.storage_queue
        account, queue, poison = block.account_name, block.queue, block.queue + POISON_SUFFIX
        return {
            "queueId": self.queue_id,
            "queueName": queue,
            "poisonQueueId": self.poison_queue_id,
            "poisonQueueName": poison,
            "storageAccountName": account,
            "sendTestMessageCommand": send_test_message_command(account, queue),
            "peekCommand": peek_command(account, queue),
            "poisonPeekCommand": peek_command(account, poison),
        }


def send_test_message_command(account: str, queue: str) -> str:
    """Put one message with the caller's Entra ID (`--auth-mode login`; needs Storage Queue Data Message Sender on
    the queue)."""
    return (
        f"az storage message put --account-name {account} --queue-name {queue} --auth-mode login "
        """--content '{"test": true}'"""
    )


def peek_command(account: str, queue: str) -> str:
    """Peek (read without hiding or removing) up to 10 messages with the caller's Entra ID (needs Storage Queue Data
    Reader on the queue)."""
    return f"az storage message peek --account-name {account} --queue-name {queue} --auth-mode login --num-messages 10"
