"""aca-jobs: Azure Container Apps Jobs from the stack's typed config.

Load and validate the stack config (nothing is registered if it is invalid), build the platform, build each
job, export what operators need.
"""

import pulumi

from components.manual_job import ManualJobArgs, ManualJobComponent
from components.platform import JobsPlatform, JobsPlatformArgs
from components.stack_config import load_stack_config

config = load_stack_config()

platform = JobsPlatform("platform", JobsPlatformArgs(config=config.platform, location=config.location))

jobs = {
    name: ManualJobComponent(name, ManualJobArgs(config=job, platform=platform.refs))
    for name, job in config.manual_jobs.items()
}

pulumi.export("resourceGroupName", platform.resource_group.name)
pulumi.export("environmentId", platform.environment.id)
pulumi.export("workspaceCustomerId", platform.workspace.customer_id)
pulumi.export("jobs", {name: job.outputs for name, job in jobs.items()})
