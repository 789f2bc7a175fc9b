"""`ManualJobComponent`: a job an operator starts on demand (`az containerapp job start`) for backfills,
data repair, maintenance windows and replays. Everything it creates is the default job (`JobComponent.build`):
a lifecycle-None identity that pulls the image and reads the job's Key Vault secrets, a lifecycle-Main identity
for the code when the job has `azureAccess`, and the job with a Manual trigger."""

from __future__ import annotations

from typing import ClassVar

from pulumi_azure_native import app

from components.config import JobSettings
from components.job_template import JobComponent


class ManualJobConfig(JobSettings):
    """A job an operator starts on demand (backfill, repair, replay)."""


class ManualJobComponent(JobComponent):
    TYPE: ClassVar[str] = "aca-jobs:index:ManualJob"
    TRIGGER_TYPE: ClassVar[app.TriggerType] = app.TriggerType.MANUAL
