"""aca-jobs: Azure Container Apps Jobs from the stack's typed config.

Load and validate the stack config (nothing is registered if it is invalid), build the platform, build each
job, export what operators need.
"""

import pulumi

from components.manual_job import ManualJobArgs, ManualJobComponent
from components.platform import JobsPlatform, JobsPlatformArgs
from components.service_bus_event_job import ServiceBusEventJob, ServiceBusEventJobArgs
from components.stack_config import load_stack_config

config = load_stack_config()
for warning in config.warnings():
    pulumi.log.warn(warning)

platform = JobsPlatform(
    "platform",
    JobsPlatformArgs(
        config=config.platform,
        location=config.location,
        service_bus_local_auth=config.service_bus_local_auth,
    ),
)

manual_jobs = {
    name: ManualJobComponent(name, ManualJobArgs(config=job, platform=platform.refs))
    for name, job in config.manual_jobs.items()
}
event_jobs = {
    name: ServiceBusEventJob(name, ServiceBusEventJobArgs(config=job, platform=platform.refs))
    for name, job in config.event_jobs.items()
}

pulumi.export("resourceGroupName", platform.refs.resource_group_name)
pulumi.export("environmentId", platform.refs.environment_id)
pulumi.export("workspaceCustomerId", platform.workspace.customer_id)
pulumi.export("jobs", {name: job.outputs for name, job in {**manual_jobs, **event_jobs}.items()})
