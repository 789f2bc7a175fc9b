"""ARM ids composed from what config already knows, so that a first `pulumi preview` shows them.

Azure computes a resource's id when it creates it; during the preview of a new stack pulumi-azure-native answers
every create with an unknown id (`provider/pkg/provider/provider.go` `Create`, `req.GetPreview()`), and every
input built from it (a role assignment's scope, a job's identity list) reaches the reviewer and the policy pack
unknown. But an ARM id is a function of names the stack file holds: composing it from them keeps it known, and
`known_after` keeps the dependency on the resource that creates it, so the engine still orders the operations
and records the property dependency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pulumi
from pulumi_azure_native import authorization


def _resolved(value: object) -> asyncio.Future:
    future = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


def known_after(value: pulumi.Input[str], resource: pulumi.Resource) -> pulumi.Output[str]:
    """`value` as an input that depends on `resource` (created first, recorded as a property dependency) but is
    known even while `resource` does not exist yet.

    A plain `value` becomes ONE output, already resolved and carrying the dependency: no `Output.all`/`apply` chain
    (each of those is an output and event-loop tasks of its own, per composed value; issue 20 measured them as the
    part of the preview that grows faster than registration). An output `value` takes one join with the dependency."""
    if isinstance(value, str):
        return pulumi.Output(
            resources={resource}, future=_resolved(value), is_known=_resolved(True), is_secret=_resolved(False)
        )
    dependency: pulumi.Output[None] = pulumi.Output(
        resources={resource}, future=_resolved(None), is_known=_resolved(True), is_secret=_resolved(False)
    )
    return pulumi.Output.all(value, dependency).apply(lambda values: values[0])


def deployment_subscription(parent: pulumi.Resource, configured: str | None) -> pulumi.Input[str]:
    """The subscription the stack deploys to. When the stack file names it (`azure-native:subscriptionId`) it is that
    text: azure-native's `getClientConfig` answers the same value, the provider's configured subscription
    (pulumi/pulumi-azure-native `provider/pkg/provider/provider.go` `Invoke`, `auth.SubscriptionID` from
    `getAuthConfig`), and plain text lets every id composed from it be plain text too (no output per id). Otherwise
    it is that invoke's answer, which runs during a preview, so it is known before anything exists."""
    if configured:
        return configured
    return authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent)).subscription_id


def _compose(subscription_id: pulumi.Input[str], build: Callable[[str], str]) -> pulumi.Input[str]:
    """`build(subscription)`: plain text when the subscription is (the stack file names it), else one `apply`."""
    if isinstance(subscription_id, str):
        return build(subscription_id)
    return pulumi.Output.from_input(subscription_id).apply(build)


def resource_id(
    subscription_id: pulumi.Input[str], resource_group: str, provider: str, *types_and_names: str
) -> pulumi.Input[str]:
    """`/subscriptions/<sub>/resourceGroups/<rg>/providers/<provider>/<type>/<name>[/<type>/<name>...]`: plain text
    when the subscription is, else one `apply` of the subscription output."""
    path = f"/resourceGroups/{resource_group}/providers/{provider}/{'/'.join(types_and_names)}"
    return _compose(subscription_id, lambda subscription: f"/subscriptions/{subscription}{path}")
