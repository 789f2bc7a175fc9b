"""A stack with one job more than aca-jobs makes: its env carries a value computed from another resource's output
(the workspace's customer id, standing for a key read from a storage account). The program itself never builds
one; this is how a hand-added job would, and what `job-computed-env-from-identities` must catch in a first preview."""

import runpy
from pathlib import Path

import pulumi
from pulumi_azure_native import app

program = runpy.run_path(str(Path(__file__).resolve().parents[2] / "__main__.py"))
platform = program["platform"]

app.Job(
    "job-extra",
    job_name="job-extra",
    resource_group_name=platform.refs.placement.resource_group_name,
    environment_id=platform.contract.environment_id,
    configuration=app.JobConfigurationArgs(
        trigger_type="Manual",
        replica_timeout=600,
        manual_trigger_config=app.JobConfigurationManualTriggerConfigArgs(parallelism=1, replica_completion_count=1),
    ),
    template=app.JobTemplateArgs(
        containers=[
            app.ContainerArgs(
                name="main",
                image="acrsharedprod.azurecr.io/jobs/extra:v1.0.0",
                env=[
                    app.EnvironmentVarArgs(
                        name="EXPORTS_CONNECTION",
                        value=pulumi.Output.concat("AccountName=x;AccountKey=", platform.workspace.customer_id),
                    )
                ],
            )
        ]
    ),
    opts=pulumi.ResourceOptions(parent=platform),
)
