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
    scope = pulumi.Output.from_input(grant.scope)
    return authorization.RoleAssignment(
        f"{name}-{grant.logical_suffix}",
        role_assignment_name=pulumi.Output.all(scope, identity.principal_id).apply(
            lambda values: role_assignment_name(values[0], values[1], grant.role)
        ),
        scope=scope,
        role_definition_id=scope.apply(lambda s: role_definition_id(grant.role, s)),
        principal_id=identity.principal_id,
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        description=f"{grant.role.display_name} for {name} (aca-jobs)",
        opts=pulumi.ResourceOptions(parent=parent),
    )
