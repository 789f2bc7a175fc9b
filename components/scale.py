"""What the stack takes of limits it shares with the rest of its subscription: the role assignments and
user-assigned identities its jobs create, counted from the validated config before anything is registered.

Role assignments are the one that runs out: Azure allows 4,000 per subscription and the limit cannot be raised
(Microsoft Learn, "Troubleshoot Azure RBAC limits"); every stack deploying to the subscription, and every grant
made outside them, draws from it. A stack past its budget (`aca-jobs:budget.roleAssignments`) is still valid: the
program warns, as it does for other valid but risky choices, in `pulumi preview` and in the offline preview alike.
The arithmetic and the other bounds of a large organisation are in docs/scale.md.
"""

from __future__ import annotations

from components.config import BUDGET_KEY, ROLE_ASSIGNMENTS_PER_SUBSCRIPTION, StackConfigBase
from components.job_identity import Footprint
from components.job_kinds import JOB_KINDS


def stack_footprint(config: StackConfigBase) -> Footprint:
    """The identities and role assignments the stack creates: every job's, and the platform's environment storage
    identity with one grant per storage key secret (`components/environment_storage.py`)."""
    total = Footprint()
    if config.platform is not None and config.platform.environment.storages:
        secrets = {s.account_key_secret.secret_name.lower() for s in config.platform.environment.storages.values()}
        total += Footprint(identities=1, role_assignments=len(secrets))
    for kind in JOB_KINDS:
        for job in getattr(config, kind.field_name).values():
            total += kind.component_for(job).footprint(job)
    return total


def budget_warnings(config: StackConfigBase) -> list[str]:
    """A warning when the stack's role assignments pass its budget, naming the count, the budget and the fix."""
    role_assignments = stack_footprint(config).role_assignments
    budget = config.budget.role_assignments
    if role_assignments <= budget:
        return []
    return [
        f"this stack creates {role_assignments:,} role assignments, above its budget of {budget:,} "
        f"(`{BUDGET_KEY}.roleAssignments`). Azure allows {ROLE_ASSIGNMENTS_PER_SUBSCRIPTION:,} per subscription, "
        "fixed, shared by every stack and every other grant in it (docs/scale.md). Split the jobs into stacks in "
        "other subscriptions, or raise the budget once the subscription's own count shows the room is there."
    ]
