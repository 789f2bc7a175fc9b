"""The role-assignment condition for the identity that deploys a stack: it may create and delete role assignments
only for the built-in roles the stack grants, and only to service principals (the jobs' managed identities).

    python -m tools.rbac_condition [--stack STACK ...]      (default: every committed stack)
    python -m tools.rbac_condition --stack-file examples/org/Pulumi.team-orders.yaml [--platform-outputs FILE]

A team stack's deployer gets the condition of the roles its own jobs grant: read from the team stack's offline run,
with its platform stack's outputs resolved as the preview resolves them (`tools/platform_outputs.py`):
`--platform-outputs FILE`, else the platform stack's file beside the team stack's.

Prints the roles, then the condition (ABAC version 2.0) for `az role assignment create --role "Role Based Access
Control Administrator" --condition ... --condition-version 2.0` (docs/first-deployment.md). The format follows
Microsoft Learn "Delegate Azure role assignment management to others with conditions" (constrain roles and
principal types, `ForAnyOfAnyValues:GuidEquals`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from components.naming import ACR_PULL, DATA_PLANE_ROLES, SERVICE_BUS_DATA_OWNER, BuiltInRole
from components.stack_config import StackConfigError
from policy.aca_facts.roles import role_guid_of
from tools import preview
from tools.offline import PROJECT_DIR, ROLE_ASSIGNMENT

# Every built-in role the program may assign, by GUID (for the comment lines).
KNOWN_ROLES = {role.guid: role for role in (ACR_PULL, SERVICE_BUS_DATA_OWNER, *DATA_PLANE_ROLES)}


class UnreadableRoleError(Exception):
    """A role assignment whose role definition id names no role GUID: the condition cannot name its role."""


def granted_roles(
    stacks: Sequence[str | tuple[str, Path | None]], platform_outputs_file: Path | None = None
) -> list[BuiltInRole]:
    """Every built-in role the stacks' programs assign: read from the role assignments an offline run of each
    stack registers, so the list follows the program (any job kind, any grant) without a copy of its rules.
    A stack is a committed stack's name or (name, stack file); a team stack runs with its platform stack's
    outputs (`platform_outputs_file`, else its platform stack's file beside its own).

    Roles are read by their GUID (`role_guid_of`: the id parsed, case-insensitive); an id that names none (not
    known yet, or not a role definition id) stops the tool rather than put something else in the condition."""
    guids = set()
    for target in stacks:
        stack, config_file = (target, None) if isinstance(target, str) else target
        run = preview.load_run(stack, config_file, platform_outputs_file=platform_outputs_file)
        where = config_file.name if config_file else f"Pulumi.{stack}.yaml"
        for assignment in run.by_type(ROLE_ASSIGNMENT):
            definition = assignment.inputs.get("roleDefinitionId")
            guid = role_guid_of(definition)
            if guid is None:
                raise UnreadableRoleError(
                    f"{where}: role assignment `{assignment.name}` has roleDefinitionId {definition!r}, "
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
    parser.add_argument(
        "--stack-file", action="append", type=Path, help="a stack file, Pulumi.<stack>.yaml, anywhere (repeatable)"
    )
    parser.add_argument(
        "--platform-outputs",
        type=Path,
        help="a team stack's platform stack outputs, as `pulumi stack output --json` prints them (default: preview "
        "the platform stack when its file is beside the team stack's)",
    )
    args = parser.parse_args(argv)
    try:
        stacks: list[str | tuple[str, Path | None]] = [*(args.stack or [])]
        stacks += [(preview.stack_of_file(path), path) for path in args.stack_file or []]
        if not stacks:
            stacks = sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
        roles = granted_roles(stacks, args.platform_outputs)
    except (preview.UsageError, StackConfigError, UnreadableRoleError) as error:
        print(str(error), file=sys.stderr)
        return 2
    for role in roles:
        print(f"# {role.display_name}: {role.guid}")
    print(condition(roles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
