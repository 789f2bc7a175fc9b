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


# kedacore/keda `pkg/scalers/azure_servicebus_scaler.go`: the connection from `connection` (auth params) and, with a
# pod identity, the bare `namespace` to which KEDA appends the cloud's Service Bus suffix.
SERVICE_BUS = Scaler(type="azure-servicebus", connection_parameter="connection", host_metadata_key="namespace")
