"""A role granted to a user-assigned identity at one scope, as every identity of the stack is granted (a job's, and
the environment's storage identity): the assignment's Azure name is derived from what it grants, and
`principalType: ServicePrincipal` spares ARM the directory lookup that races a new identity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, managedidentity

from components.naming import BuiltInRole, role_assignment_name, role_definition_id


@dataclass(frozen=True)
class RoleGrant:
    role: BuiltInRole
    scope: pulumi.Input[str]
    # Tells apart grants of one role to one identity at several scopes (part of the logical name, so stable).
    label: str | None = None

    @property
    def logical_suffix(self) -> str:
        return self.role.slug if self.label is None else f"{self.role.slug}-{self.label}"


def grant_role(
    parent: pulumi.Resource, name: str, identity: managedidentity.UserAssignedIdentity, grant: RoleGrant
) -> authorization.RoleAssignment:
    """`grant` to `identity`, named `<name>-<role>[-<label>]`: the assignment's Azure name is derived from what it
    grants (a re-run is idempotent), and `principalType: ServicePrincipal` spares ARM the directory lookup that races
    a new identity."""
    scope = grant.scope
    if isinstance(scope, str):
        # A scope config already knows (most are): the definition id is plain text and the name one apply.
        name_of_grant = identity.principal_id.apply(
            lambda principal: role_assignment_name(scope, principal, grant.role)
        )
        definition: pulumi.Input[str] = role_definition_id(grant.role, scope)
    else:
        scope_output = pulumi.Output.from_input(scope)
        name_of_grant = pulumi.Output.all(scope_output, identity.principal_id).apply(
            lambda values: role_assignment_name(values[0], values[1], grant.role)
        )
        definition = scope_output.apply(lambda s: role_definition_id(grant.role, s))
    return authorization.RoleAssignment(
        f"{name}-{grant.logical_suffix}",
        role_assignment_name=name_of_grant,
        scope=scope,
        role_definition_id=definition,
        principal_id=identity.principal_id,
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        description=f"{grant.role.display_name} for {name} (aca-jobs)",
        opts=pulumi.ResourceOptions(parent=parent),
    )
