"""`ManualJobComponent`: a job an operator starts on demand (`az containerapp job start`) for backfills,
data repair, maintenance windows and replays."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app

from components.config import ManualJobConfig
from components.job_identity import JobIdentity, RoleGrant, job_identity
from components.job_template import JobDefinition, Trigger, create_job
from components.naming import ACR_PULL
from components.operations import job_outputs
from components.platform import PlatformRefs


@dataclass(frozen=True)
class ManualJobArgs:
    config: ManualJobConfig
    platform: PlatformRefs


class ManualJobComponent(pulumi.ComponentResource):
    pull_identity: JobIdentity
    job: app.Job
    outputs: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: ManualJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aca-jobs:index:ManualJob", name, None, opts)
        config, platform = args.config, args.platform

        # Used only by the platform to pull the image (lifecycle None): no container can take its tokens.
        self.pull_identity = job_identity(
            self,
            name,
            "pull",
            app.IdentitySettingsLifeCycle.NONE,
            [RoleGrant(ACR_PULL, platform.registry.resource_id)],
            platform,
        )
        self.job = create_job(
            self,
            JobDefinition(
                name=name,
                settings=config,
                trigger=Trigger(
                    trigger_type=app.TriggerType.MANUAL,
                    manual=app.JobConfigurationManualTriggerConfigArgs(
                        parallelism=config.parallelism,
                        replica_completion_count=config.replica_completion_count,
                    ),
                ),
                pull_identity=self.pull_identity,
                identities=[self.pull_identity],
            ),
            platform,
        )
        self.outputs = job_outputs(name, self.job, self.pull_identity, platform)
        self.register_outputs(self.outputs)
