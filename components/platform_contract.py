"""The platform contract: everything a job needs from the platform it runs on, as one plain, versioned description.

`JobsPlatform` produces it; jobs consume only it (and `JobPlacement`, where the stack puts the jobs' own resources).
A platform that a stack creates and one that another stack created (issue 17: a platform stack and team stacks)
must look the same to a job, so nothing here is a config model or a resource: names and ids as text, or as
`pulumi.Input[str]` where the value is an output (an id that depends on the resource creating it, the workspace's
customer id). `to_output()` is the serialisable form a platform stack exports; `CONTRACT_VERSION` changes whenever
a field's meaning does, so a team stack can refuse a contract it does not understand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from policy.aca_facts.arm_id import ArmId

CONTRACT_VERSION = 1
# The stack output a platform stack exports the contract as.
PLATFORM_OUTPUT = "platform"


@dataclass(frozen=True)
class WorkloadProfileContract:
    """A dedicated workload profile of the environment: a pool of `minimumCount`-`maximumCount` nodes."""

    name: str
    workload_profile_type: str
    minimum_count: int
    maximum_count: int
    node_cores: int
    node_memory_gib: int


@dataclass(frozen=True)
class StorageContract:
    """An Azure Files storage registered on the environment: jobs mount it by `name` (`type: AzureFile` volumes)."""

    name: str
    access_mode: str  # ReadOnly | ReadWrite


@dataclass(frozen=True)
class RegistryContract:
    """The registry every job pulls from (through its own identity, granted AcrPull on `resource_id`)."""

    server: str  # login server, lower case
    resource_id: str


@dataclass(frozen=True)
class ServiceBusContract:
    """The namespace event jobs' queues live in."""

    namespace: str  # the bare name
    subscription_id: pulumi.Input[str]  # the namespace's subscription (queue ids are composed from it)
    namespace_name: pulumi.Input[str]  # the same, depending on the namespace resource where the stack creates it
    namespace_id: pulumi.Input[str]
    host_name: str
    resource_group: str  # the namespace's resource group (queues are created there)
    resource_group_name: pulumi.Input[str]  # the same, depending on the resource group where the stack creates it
    sku: str
    # Whether SAS (local) auth is on: only then may an event job use the connection-string fallback.
    local_auth_allowed: bool


@dataclass(frozen=True)
class PlatformContract:
    """What jobs need from a platform. Ids are ARM ids; `*_name` inputs depend on the resources that create them."""

    subscription_id: pulumi.Input[str]
    location: str
    environment_id: pulumi.Input[str]
    workload_profiles: tuple[WorkloadProfileContract, ...]
    # Cores the environment's Consumption profile may use at once.
    core_quota: int
    workspace_id: pulumi.Input[str]
    workspace_customer_id: pulumi.Input[str]
    registry: RegistryContract
    service_bus: ServiceBusContract | None
    key_vault_id: str | None
    # The action group alert rules notify (None: the platform does not alert).
    action_group_id: pulumi.Input[str] | None
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = False
    # Added to version 1 without a new version: a contract written before it has none, which is what it means.
    storages: tuple[StorageContract, ...] = ()
    version: int = CONTRACT_VERSION

    def key_vault_secret_id(self, secret_name: str) -> str:
        """The ARM id of one secret of the platform's vault: the narrowest scope Key Vault Secrets User takes."""
        if self.key_vault_id is None:  # guaranteed by StackConfig; a programming error otherwise
            raise ValueError("the platform has no Key Vault")
        return f"{self.key_vault_id}/secrets/{secret_name}"

    def to_output(self) -> dict[str, object]:
        """The contract as a stack output (camelCase keys, as stack outputs and config are written)."""
        bus = self.service_bus
        return {
            "version": self.version,
            "subscriptionId": self.subscription_id,
            "location": self.location,
            "environment": {
                "resourceId": self.environment_id,
                "coreQuota": self.core_quota,
                "workloadProfiles": [
                    {
                        "name": profile.name,
                        "workloadProfileType": profile.workload_profile_type,
                        "minimumCount": profile.minimum_count,
                        "maximumCount": profile.maximum_count,
                        "nodeCores": profile.node_cores,
                        "nodeMemoryGib": profile.node_memory_gib,
                    }
                    for profile in self.workload_profiles
                ],
                "storages": [{"name": storage.name, "accessMode": storage.access_mode} for storage in self.storages],
            },
            "workspace": {"resourceId": self.workspace_id, "customerId": self.workspace_customer_id},
            "registry": {"server": self.registry.server, "resourceId": self.registry.resource_id},
            "serviceBus": None
            if bus is None
            else {
                "namespace": bus.namespace,
                "resourceId": bus.namespace_id,
                "hostName": bus.host_name,
                "resourceGroup": bus.resource_group,
                "sku": bus.sku,
                "localAuthAllowed": bus.local_auth_allowed,
            },
            "keyVault": None if self.key_vault_id is None else {"resourceId": self.key_vault_id},
            "actionGroupId": self.action_group_id,
            "tags": dict(self.tags),
            "protect": self.protect,
        }


class ContractError(ValueError):
    """A platform output this program cannot read; the message says what and how to fix it."""


def contract_from_output(value: Any, source: str) -> PlatformContract:
    """The contract a platform stack exported (`PlatformContract.to_output()`), read back and checked: version and
    shape; `source` names where it came from in the messages."""
    if not isinstance(value, Mapping):
        raise ContractError(f"{source} has no `{PLATFORM_OUTPUT}` output (is it a platform stack, and deployed?)")
    version = value.get("version")
    if version != CONTRACT_VERSION:
        # Stack outputs carry numbers as floats: show 2.0 as 2.
        shown = int(version) if isinstance(version, float) and version.is_integer() else version
        raise ContractError(
            f"{source} exports a platform contract of version {shown!r}; this program reads version "
            f"{CONTRACT_VERSION}. Deploy the platform stack and this team stack from the same aca-jobs release"
        )
    try:
        environment, registry, workspace = value["environment"], value["registry"], value["workspace"]
        bus = value.get("serviceBus")
        vault = value.get("keyVault")
        service_bus = None
        if bus is not None:
            namespace_id = ArmId.parse(bus["resourceId"])
            service_bus = ServiceBusContract(
                namespace=bus["namespace"],
                subscription_id=namespace_id.subscription or "",
                namespace_name=bus["namespace"],
                namespace_id=str(namespace_id),
                host_name=bus["hostName"],
                resource_group=bus["resourceGroup"],
                resource_group_name=bus["resourceGroup"],
                sku=bus["sku"],
                local_auth_allowed=bool(bus["localAuthAllowed"]),
            )
        return PlatformContract(
            subscription_id=value["subscriptionId"],
            location=value["location"],
            environment_id=str(ArmId.parse(environment["resourceId"])),
            workload_profiles=tuple(
                WorkloadProfileContract(
                    name=profile["name"],
                    workload_profile_type=profile["workloadProfileType"],
                    minimum_count=int(profile["minimumCount"]),
                    maximum_count=int(profile["maximumCount"]),
                    node_cores=int(profile["nodeCores"]),
                    node_memory_gib=int(profile["nodeMemoryGib"]),
                )
                for profile in environment["workloadProfiles"]
            ),
            core_quota=int(environment["coreQuota"]),
            workspace_id=workspace.get("resourceId"),
            workspace_customer_id=workspace.get("customerId"),
            registry=RegistryContract(server=str(registry["server"]).lower(), resource_id=registry["resourceId"]),
            service_bus=service_bus,
            key_vault_id=vault["resourceId"] if vault else None,
            action_group_id=value.get("actionGroupId"),
            tags=dict(value.get("tags") or {}),
            protect=bool(value.get("protect")),
            storages=tuple(
                StorageContract(name=str(storage["name"]), access_mode=str(storage["accessMode"]))
                for storage in environment.get("storages") or []
            ),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ContractError(f"{source}'s `{PLATFORM_OUTPUT}` output is not a platform contract ({error!r})") from None


@dataclass(frozen=True)
class JobPlacement:
    """Where a stack puts its jobs' own resources (jobs, identities, grants, alert rules): a resource group, its
    location, tags and protection. In a single stack it is the platform's resource group."""

    subscription_id: pulumi.Input[str]
    resource_group: str  # the name from config
    resource_group_name: pulumi.Input[str]  # the same, depending on the resource group where the stack creates it
    location: str
    tags: dict[str, str]
    protect: bool
    # The subscription the stack file names (`azure-native:subscriptionId`), when it does: plain text, for an id that
    # must be known before anything runs (the import id of an adopted job).
    configured_subscription_id: str | None = None
    # The stack's cloud (`azure-native:environment`): event sources tell their scaler which cloud's hosts to read.
    cloud: str = "public"
