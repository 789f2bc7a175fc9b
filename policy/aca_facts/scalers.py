"""The KEDA scalers event jobs use, as the program writes them into a job's scale rule and the policy pack reads
them back: one entry per event source, so the two never disagree on a rule's type or parameter names.

Container Apps takes a managed identity on a job's scale rule for the Service Bus, Azure Queue Storage and Event Hubs
scalers (maintainer comment of 2026-07-24 on microsoft/azure-container-apps issue 1786).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scaler:
    # The scale rule's `type`.
    type: str
    # The trigger parameter a secret-based fallback passes the connection string as (`auth[].triggerParameter`).
    connection_parameter: str
    # The metadata key that names the host the scaler reads, as a bare name when the rule has an identity.
    host_metadata_key: str
    # The source, as messages name it.
    source: str
    # Whether aca-jobs offers a connection-string fallback for it (`auth` on the rule instead of the identity).
    connection_fallback: bool


# kedacore/keda `pkg/scalers/azure_servicebus_scaler.go`: the connection from `connection` (auth params) and, with a
# pod identity, the bare `namespace` to which KEDA appends the cloud's Service Bus suffix.
# The fallback (`auth: connectionString`, README "The connection-string fallback") exists for environments where a
# scale-rule identity cannot be used: a SAS rule on the one queue, kept visible by the pack.
SERVICE_BUS = Scaler(
    type="azure-servicebus",
    connection_parameter="connection",
    host_metadata_key="namespace",
    source="Service Bus",
    connection_fallback=True,
)
# kedacore/keda v2.20.2 `pkg/scalers/azure_queue_scaler.go` (`azureQueueMetadata`): the connection from `connection`,
# and with an identity the storage account's bare name `accountName`, to which KEDA adds the cloud's queue suffix
# (`azure/azure_storage.go` `GetStorageQueueClient`: `https://<accountName>.<suffix>/<queue>`).
# No fallback: a queue's connection string holds the account key or a SAS signed with it, a secret to store and
# rotate, and it works only while the account allows Shared Key authorization (which also governs key-signed SAS,
# Microsoft Learn "Prevent Shared Key authorization for an Azure Storage account").
STORAGE_QUEUE = Scaler(
    type="azure-queue",
    connection_parameter="connection",
    host_metadata_key="accountName",
    source="Storage Queue",
    connection_fallback=False,
)
# kedacore/keda v2.20.2 `pkg/scalers/azure/azure_eventhub.go` (`EventHubInfo`): the hub's connection from
# `connection`, the checkpoint account's from `storageConnection`; with an identity the bare `eventHubNamespace`, to
# which KEDA adds the cloud's Service Bus suffix (`GetEventHubClient`: `<eventHubNamespace>.<suffix>`).
# No fallback: it would need the hub's SAS keys and the checkpoint account's shared key enabled, for a scaler that
# reads with its identity (components/event_sources/event_hub.py).
EVENT_HUB = Scaler(
    type="azure-eventhub",
    connection_parameter="connection",
    host_metadata_key="eventHubNamespace",
    source="Event Hubs",
    connection_fallback=False,
)
# Every source's scaler, by rule type: what the policy pack reads a scale rule with.
SCALERS: dict[str, Scaler] = {scaler.type: scaler for scaler in (SERVICE_BUS, STORAGE_QUEUE, EVENT_HUB)}
