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

from components.naming import ACR_PULL, DATA_PLANE_ROLES, SERVICE_BUS_DATA_OWNER, BuiltInRole
from components.stack_config import StackConfigError
from policy.aca_facts.roles import role_guid_of
from tools import preview
from tools.offline import PROJECT_DIR, ROLE_ASSIGNMENT

# Every built-in role the program may assign, by GUID (for the comment lines).
KNOWN_ROLES = {role.guid: role for role in (ACR_PULL, SERVICE_BUS_DATA_OWNER, *DATA_PLANE_ROLES)}


class UnreadableRoleError(Exception):
    """A role assignment whose role definition id names no role GUID: the condition cannot name its role."""


def granted_roles(stacks: Sequence[str]) -> list[BuiltInRole]:
    """Every built-in role the stacks' programs assign: read from the role assignments an offline run of each
    stack registers, so the list follows the program (any job kind, any grant) without a copy of its rules.

    Roles are read by their GUID (`role_guid_of`: the id parsed, case-insensitive); an id that names none (not
    known yet, or not a role definition id) stops the tool rather than put something else in the condition."""
    guids = set()
    for stack in stacks:
        for assignment in preview.load_run(stack, None).by_type(ROLE_ASSIGNMENT):
            definition = assignment.inputs.get("roleDefinitionId")
            guid = role_guid_of(definition)
            if guid is None:
                raise UnreadableRoleError(
                    f"Pulumi.{stack}.yaml: role assignment `{assignment.name}` has roleDefinitionId {definition!r}, "
                    "not /subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<role GUID>, so the "
                    "condition cannot name its role; nothing was printed"
                )
            guids.add(guid)
    roles = [KNOWN_ROLES.get(guid) or BuiltInRole(display_name=guid, slug=guid, guid=guid) for guid in guids]
    return sorted(roles, key=lambda role: role.display_name)


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
    except (preview.UsageError, StackConfigError, UnreadableRoleError) as error:
        print(str(error), file=sys.stderr)
        return 2
    for role in roles:
        print(f"# {role.display_name}: {role.guid}")
    print(condition(roles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
