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

import pulumi


def _resolved(value: object) -> asyncio.Future:
    future = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


def known_after(value: pulumi.Input[str], resource: pulumi.Resource) -> pulumi.Output[str]:
    """`value` as an input that depends on `resource` (created first, recorded as a property dependency) but is
    known even while `resource` does not exist yet."""
    dependency: pulumi.Output[None] = pulumi.Output(
        resources={resource}, future=_resolved(None), is_known=_resolved(True), is_secret=_resolved(False)
    )
    return pulumi.Output.all(value, dependency).apply(lambda values: values[0])


def resource_group_id(subscription_id: pulumi.Input[str], resource_group: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id, "/resourceGroups/", resource_group)


def resource_id(
    subscription_id: pulumi.Input[str], resource_group: str, provider: str, *types_and_names: str
) -> pulumi.Output[str]:
    """`/subscriptions/<sub>/resourceGroups/<rg>/providers/<provider>/<type>/<name>[/<type>/<name>...]`."""
    return pulumi.Output.concat(
        resource_group_id(subscription_id, resource_group), f"/providers/{provider}/", "/".join(types_and_names)
    )
