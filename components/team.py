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

import pulumi
from pulumi.runtime.sync_await import _sync_await
from pulumi_azure_native import resources
from pydantic import ValidationError

from components.alerts import AlertRefs
from components.arm import deployment_subscription, known_after
from components.config import (
    PLATFORM_STACK_KEY,
    AlertsConfig,
    PlatformFacts,
    StackConfigBase,
)
from components.config_problems import Problem, format_problems
from components.platform import PlatformRefs
from components.platform_contract import (
    PLATFORM_OUTPUT,
    ContractError,
    JobPlacement,
    PlatformContract,
    contract_from_output,
)
from components.stack_config import StackConfigError, stack_file_name


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
            facts = PlatformFacts.of_contract(self.contract, config.platform_stack, team)
        except ValidationError as error:  # a profile of the contract this program's rules do not take
            raise StackConfigError(
                f"{stack_file}: {PLATFORM_STACK_KEY}: the platform stack's workload profiles are not ones this program "
                f"knows ({error.error_count()} problem(s)). Fix: deploy both stacks from the same aca-jobs release."
            ) from None
        for warning in check_on_contract(config, facts, stack_file):
            pulumi.log.warn(warning)
        subscription_id = deployment_subscription(self, config.subscription_id)
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
            cloud=config.cloud,
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
