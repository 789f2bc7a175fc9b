"""`ManualJobComponent`: a job an operator starts on demand (`az containerapp job start`) for backfills,
data repair, maintenance windows and replays."""

from __future__ import annotations

from typing import ClassVar

import pulumi
from pulumi_azure_native import app

from components.config import ManualJobConfig
from components.job_identity import JobIdentity, RoleGrant, job_identity
from components.job_template import JobComponent, JobDefinition, create_job
from components.naming import ACR_PULL
from components.operations import job_outputs
from components.platform import PlatformRefs


class ManualJobComponent(JobComponent):
    TYPE: ClassVar[str] = "aca-jobs:index:ManualJob"
    TRIGGER_TYPE: ClassVar[app.TriggerType] = app.TriggerType.MANUAL
    pull_identity: JobIdentity

    def build(self, name: str, config: ManualJobConfig, platform: PlatformRefs) -> dict[str, pulumi.Input[str]]:
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
                trigger_type=self.TRIGGER_TYPE,
                pull_identity=self.pull_identity,
                identities=[self.pull_identity],
            ),
            platform,
        )
        return job_outputs(name, self.job, self.pull_identity, platform)
