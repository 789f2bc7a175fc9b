"""What an operator needs per job: the commands to start it and list its executions, and a KQL query
over the environment's logs that shows each execution's outcome."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import app

from components.arm import known_after, resource_id
from components.job_identity import JobIdentity
from components.platform import PlatformRefs

# Reasons the Container Apps platform logs for a replica's end (ContainerAppSystemLogs_CL.Reason_s).
FAILURE_REASONS = ("Failed", "BackoffLimitExceeded", "DeadlineExceeded")
SUCCESS_REASONS = ("Completed",)


def start_command(job_name: str, resource_group: str) -> str:
    return f"az containerapp job start --name {job_name} --resource-group {resource_group}"


def executions_command(job_name: str, resource_group: str) -> str:
    return f"az containerapp job execution list --name {job_name} --resource-group {resource_group} --output table"


def send_test_message_command(namespace_host: str, queue: str) -> str:
    """Send one message through the Service Bus REST API with the caller's Entra ID token (the caller needs
    Azure Service Bus Data Sender on the queue; local auth is off, so there is no SAS alternative)."""
    return (
        f'az rest --method post --url "https://{namespace_host}/{queue}/messages" '
        '--resource "https://servicebus.azure.net" --headers "Content-Type=application/json" '
        """--body '{"test": true}'"""
    )


def evidence_query(job_name: str) -> str:
    """KQL: one row per execution with its outcome. Columns vary between workspaces, hence column_ifexists."""
    failures = ", ".join(f'"{reason}"' for reason in FAILURE_REASONS)
    successes = ", ".join(f'"{reason}"' for reason in SUCCESS_REASONS)
    return (
        "ContainerAppSystemLogs_CL"
        ' | extend Job = tostring(column_ifexists("JobName_s", "")),'
        ' Execution = tostring(column_ifexists("ExecutionName_s", "")),'
        ' Reason = tostring(column_ifexists("Reason_s", "")),'
        ' Message = tostring(column_ifexists("Log_s", ""))'
        f' | where Job == "{job_name}" and isnotempty(Execution)'
        " | summarize Started = min(TimeGenerated), LastEvent = max(TimeGenerated),"
        f" Failures = countif(Reason in ({failures})), Completions = countif(Reason in ({successes})),"
        " Reasons = make_set(Reason) by Execution"
        ' | extend Outcome = case(Failures > 0, "Failed", Completions > 0, "Succeeded", "Running or unknown")'
        " | order by Started desc"
    )


def job_outputs(name: str, job: app.Job, identity: JobIdentity, platform: PlatformRefs) -> dict[str, pulumi.Input[str]]:
    """The per-job output contract every job kind exports (event jobs add their queue's outputs)."""
    return {
        "resourceId": known_after(
            resource_id(platform.subscription_id, platform.resource_group, "Microsoft.App", "jobs", name), job
        ),
        "name": known_after(name, job),
        "identityPrincipalId": identity.identity.principal_id,
        "startCommand": platform.resource_group_name.apply(lambda rg: start_command(name, rg)),
        "executionsCommand": platform.resource_group_name.apply(lambda rg: executions_command(name, rg)),
        "evidenceQuery": evidence_query(name),
    }
