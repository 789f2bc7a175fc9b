"""A team stack: jobs on a platform another stack owns (issue 17).

The team stack names the platform stack (`aca-jobs:platformStack: <organization>/<project>/<stack>`) and reads its
stack output `platform`, the platform contract (`components/platform_contract.py`), through a
`pulumi.StackReference`: a read the engine answers with the referenced stack's outputs, in a preview too
(pulumi/pulumi `pkg/resource/deploy/builtins.go` `readStackReference`). The program needs the contract's values
as plain text (job names, registry host, profile sizes for the config rules), so it waits for the read the way the
SDK's own synchronous invokes wait (`pulumi/runtime/invoke.py` `invoke` -> `_sync_await`).

Everything the config rules check against the platform (workload profiles and room, registry host, Key Vault,
Service Bus presence, whether the connection-string fallback is allowed) is then checked against the contract,
with the same messages naming the team's keys. The team's own resource group (`aca-jobs:team.resourceGroup`) holds
its jobs, identities and alert rules; its queues go into the platform's namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await
from pulumi_azure_native import authorization, resources
from pydantic import ValidationError

from components.alerts import AlertRefs
from components.arm import known_after
from components.config import (
    PLATFORM_STACK_KEY,
    TEAM_KEY,
    AlertsConfig,
    PlatformFacts,
    StackConfigBase,
    TeamConfig,
    WorkloadProfileConfig,
)
from components.config_problems import Problem, format_problems
from components.platform import PlatformRefs
from components.platform_contract import (
    CONTRACT_VERSION,
    JobPlacement,
    PlatformContract,
    RegistryContract,
    ServiceBusContract,
    WorkloadProfileContract,
)
from components.stack_config import StackConfigError, stack_file_name
from policy.aca_facts.arm_id import ArmId

PLATFORM_OUTPUT = "platform"


class ContractError(ValueError):
    """A platform output this program cannot read; the message says what and how to fix it."""


def contract_from_output(value: Any, source: str) -> PlatformContract:
    """The contract a platform stack exported (`PlatformContract.to_output()`), checked: version and shape."""
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
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ContractError(f"{source}'s `{PLATFORM_OUTPUT}` output is not a platform contract ({error!r})") from None


def facts_of(contract: PlatformContract, platform_stack: str, team: TeamConfig) -> PlatformFacts:
    """What the config rules read of the platform, from its contract and the team's share of its cores."""
    where = f"the platform stack `{platform_stack}`"
    budget = team.core_budget if team.core_budget is not None else contract.core_quota
    quota_what = (
        f"the team's coreBudget of {budget}"
        if team.core_budget is not None
        else f"the platform's coreQuota of {budget} (the team has no coreBudget, so it may take all of it)"
    )
    key_vault = ArmId.parse(contract.key_vault_id) if contract.key_vault_id else None
    bus = contract.service_bus
    return PlatformFacts(
        registry_server=contract.registry.server,
        key_vault_name=key_vault.name if key_vault else None,
        workload_profiles=tuple(
            WorkloadProfileConfig.model_validate(
                {
                    "name": profile.name,
                    "workloadProfileType": profile.workload_profile_type,
                    "minimumCount": profile.minimum_count,
                    "maximumCount": profile.maximum_count,
                }
            )
            for profile in contract.workload_profiles
        ),
        core_quota=budget,
        quota_what=quota_what,
        quota_key=f"{TEAM_KEY}.coreBudget (agreed with the platform team)",
        profiles_key=f"{where}'s environment.workloadProfiles",
        service_bus_name=bus.namespace if bus else None,
        service_bus_resource_group=bus.resource_group if bus else None,
        service_bus_sku=bus.sku if bus else None,
        local_auth_allowed=bus.local_auth_allowed if bus else None,
        where=where,
    )


def check_on_contract(config: StackConfigBase, facts: PlatformFacts, stack_file: str) -> list[str]:
    """Raise `StackConfigError` with every problem between the team's jobs and the platform; return the warnings."""
    job_keys = list(config.job_keys().values())
    problems = [
        Problem(problem.context["key"] or PLATFORM_STACK_KEY, problem.message(), problem.context["fix"])
        for problem in config.problems_on(facts)
    ]
    if problems:
        raise StackConfigError(format_problems(problems, stack_file, job_keys))
    return config.storm_warnings(facts)


class TeamPlatform(pulumi.ComponentResource):
    """The team's side of a platform it does not own: the read of the platform stack's contract, and the team's own
    resource group for its jobs, identities and alert rules."""

    contract: PlatformContract
    resource_group: resources.ResourceGroup
    refs: PlatformRefs

    def __init__(self, name: str, config: StackConfigBase, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aca-jobs:index:TeamPlatform", name, None, opts)
        assert config.platform_stack is not None and config.team is not None  # a team stack (StackConfig)
        team, stack_file = config.team, stack_file_name()
        reference = pulumi.StackReference(config.platform_stack, opts=pulumi.ResourceOptions(parent=self))
        details = _sync_await(reference.get_output_details(PLATFORM_OUTPUT))
        value = details.value if details.value is not None else details.secret_value
        try:
            self.contract = contract_from_output(value, f"platform stack `{config.platform_stack}`")
        except ContractError as error:
            raise StackConfigError(f"{stack_file}: {PLATFORM_STACK_KEY}: {error}.") from None
        try:
            facts = facts_of(self.contract, config.platform_stack, team)
        except ValidationError as error:  # a profile of the contract this program's rules do not take
            raise StackConfigError(
                f"{stack_file}: {PLATFORM_STACK_KEY}: the platform stack's workload profiles are not ones this program "
                f"knows ({error.error_count()} problem(s)). Fix: deploy both stacks from the same aca-jobs release."
            ) from None
        for warning in check_on_contract(config, facts, stack_file):
            pulumi.log.warn(warning)
        subscription_id = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).subscription_id
        location = self.contract.location
        self.resource_group = resources.ResourceGroup(
            "resource-group",
            resource_group_name=team.resource_group,
            location=location,
            tags=dict(team.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=team.protect),
        )
        placement = JobPlacement(
            subscription_id=subscription_id,
            resource_group=team.resource_group,
            resource_group_name=known_after(team.resource_group, self.resource_group),
            location=location,
            tags=dict(team.tags),
            protect=team.protect,
            configured_subscription_id=config.subscription_id,
        )
        alerts = None
        if self.contract.action_group_id and self.contract.workspace_id:
            # The platform's action group, the default thresholds: failed executions are alerted in every stack.
            alerts = AlertRefs(
                settings=_alert_settings(self.contract.action_group_id),
                action_group_id=self.contract.action_group_id,
                workspace_id=pulumi.Output.from_input(self.contract.workspace_id),
                subscription_id=subscription_id,
                resource_group=team.resource_group,
                resource_group_name=placement.resource_group_name,  # type: ignore[arg-type]
                location=location,
                tags=dict(team.tags),
            )
        self.refs = PlatformRefs(contract=self.contract, placement=placement, alerts=alerts)
        self.register_outputs({"resourceGroupName": placement.resource_group_name})


def _alert_settings(action_group_id: pulumi.Input[str]) -> AlertsConfig:
    try:
        return AlertsConfig.model_validate({"actionGroupId": action_group_id})
    except ValidationError as error:
        raise StackConfigError(f"the platform's action group id is not usable: {error}") from None
