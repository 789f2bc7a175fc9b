"""The role-assignment condition for the identity that deploys a stack: it may create and delete role assignments
only for the built-in roles the stack grants, and only to service principals (the jobs' managed identities).

    python -m tools.rbac_condition [--stack STACK ...]      (default: every committed stack)

Prints the roles, then the condition (ABAC version 2.0) for `az role assignment create --role "Role Based Access
Control Administrator" --condition ... --condition-version 2.0` (docs/first-deployment.md). The format follows
Microsoft Learn "Delegate Azure role assignment management to others with conditions" (constrain roles and
principal types, `ForAnyOfAnyValues:GuidEquals`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from components.config import EventJobConfig
from components.naming import (
    ACR_PULL,
    KEY_VAULT_SECRETS_USER,
    SERVICE_BUS_DATA_OWNER,
    SERVICE_BUS_DATA_RECEIVER,
    BuiltInRole,
)
from components.stack_config import StackConfigError
from tools import preview
from tools.offline import PROJECT_DIR


def granted_roles(stacks: Sequence[str]) -> list[BuiltInRole]:
    """Every built-in role the stacks' programs assign, from their validated config."""
    roles: dict[str, BuiltInRole] = {ACR_PULL.guid: ACR_PULL}
    for stack in stacks:
        given = preview.read_stack(stack, None)
        config = given.check()
        for _, _, job in config.jobs():
            if isinstance(job, EventJobConfig):  # its scaler reads the queue, its code receives
                if job.auth == "managedIdentity":
                    roles[SERVICE_BUS_DATA_OWNER.guid] = SERVICE_BUS_DATA_OWNER
                roles[SERVICE_BUS_DATA_RECEIVER.guid] = SERVICE_BUS_DATA_RECEIVER
            if job.secrets:
                roles[KEY_VAULT_SECRETS_USER.guid] = KEY_VAULT_SECRETS_USER
            for grant in job.azure_access:
                roles[grant.built_in_role.guid] = grant.built_in_role
    return sorted(roles.values(), key=lambda role: role.display_name)


def condition(roles: Sequence[BuiltInRole]) -> str:
    guids = ", ".join(role.guid for role in roles)
    role_is = "ForAnyOfAnyValues:GuidEquals {" + guids + "}"
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] {role_is} "
        "AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase "
        "{'ServicePrincipal'})) AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] {role_is}))"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.rbac_condition", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="a committed stack (repeatable); default: all")
    args = parser.parse_args(argv)
    stacks = args.stack or sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
    try:
        roles = granted_roles(stacks)
    except (preview.UsageError, StackConfigError) as error:
        print(str(error), file=sys.stderr)
        return 2
    for role in roles:
        print(f"# {role.display_name}: {role.guid}")
    print(condition(roles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
