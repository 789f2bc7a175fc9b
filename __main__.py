"""aca-jobs: Azure Container Apps Jobs from the stack's typed config.

Load and validate the stack config (nothing is registered if it is invalid), build the platform (or, in a team
stack, read the platform stack's contract), build each job with its kind's component (`components/job_kinds.py`),
export what operators need. A platform stack (a platform and no jobs) exports the platform contract as `platform`.
"""

import pulumi

from components.job_kinds import JOB_KINDS
from components.job_template import JobArgs
from components.platform import JobsPlatform, JobsPlatformArgs
from components.platform_contract import PLATFORM_OUTPUT
from components.scale import budget_warnings
from components.stack_config import load_stack_config
from components.team import TeamPlatform

config = load_stack_config()
# Counted from config before anything is registered: `pulumi preview` and the offline preview warn alike.
for warning in [*config.warnings(), *budget_warnings(config)]:
    pulumi.log.warn(warning)

if config.platform is not None:
    platform: JobsPlatform | TeamPlatform = JobsPlatform(
        "platform",
        JobsPlatformArgs(
            config=config.platform,
            location=config.location,
            service_bus_local_auth=config.service_bus_local_auth,
            subscription_id=config.subscription_id,
            cloud=config.cloud,
        ),
    )
else:
    platform = TeamPlatform("platform", config)

jobs = {
    name: kind.component_for(job)(name, JobArgs(config=job, platform=platform.refs))
    for kind in JOB_KINDS
    for name, job in getattr(config, kind.field_name).items()
}

if config.platform is not None and not jobs:
    pulumi.export(PLATFORM_OUTPUT, platform.contract.to_output())
pulumi.export("resourceGroupName", platform.refs.placement.resource_group_name)
pulumi.export("environmentId", platform.contract.environment_id)
pulumi.export("workspaceCustomerId", platform.contract.workspace_customer_id)
pulumi.export("jobs", {name: job.outputs for name, job in jobs.items()})
