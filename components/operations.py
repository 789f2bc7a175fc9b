"""What an operator needs per job: commands to start, inspect and stop executions, and KQL over the environment's
logs that shows each execution's outcome, its failure message and its own output.

The filter on the system logs is written once (`execution_events`): the evidence query summarizes it, and the
failed-execution alert (`components/alerts.py`) counts its failures, so what alerts is what the evidence shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pulumi_azure_native import app

from components.arm import known_after, resource_id

if TYPE_CHECKING:  # the platform builds alert rules from the queries here; types only, no import cycle
    from components.job_identity import JobIdentity
    from components.platform import PlatformRefs

# Reasons the Container Apps platform logs for a replica's end (ContainerAppSystemLogs_CL.Reason_s).
FAILURE_REASONS = ("Failed", "BackoffLimitExceeded", "DeadlineExceeded")
SUCCESS_REASONS = ("Completed",)
# What an operator fills in: the name `az containerapp job start` printed, or one from the execution list.
EXECUTION_PLACEHOLDER = "<execution-name>"


def _kql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def start_command(job_name: str, resource_group: str) -> str:
    return f"az containerapp job start --name {job_name} --resource-group {resource_group}"


def executions_command(job_name: str, resource_group: str) -> str:
    return f"az containerapp job execution list --name {job_name} --resource-group {resource_group} --output table"


def show_execution_command(job_name: str, resource_group: str) -> str:
    return (
        f"az containerapp job execution show --name {job_name} --resource-group {resource_group} "
        f"--job-execution-name {EXECUTION_PLACEHOLDER}"
    )


def stop_command(job_name: str, resource_group: str) -> str:
    """Stops one running execution (`POST .../jobs/{job}/executions/{execution}/stop`)."""
    return (
        f"az containerapp job stop --name {job_name} --resource-group {resource_group} "
        f"--job-execution-name {EXECUTION_PLACEHOLDER}"
    )


def execution_events(job_name: str) -> str:
    """KQL: the job's system-log events, one row per event with its execution, reason and message. Columns vary
    between workspaces, hence column_ifexists."""
    return (
        "ContainerAppSystemLogs_CL"
        ' | extend Job = tostring(column_ifexists("JobName_s", "")),'
        ' Execution = tostring(column_ifexists("ExecutionName_s", "")),'
        ' Reason = tostring(column_ifexists("Reason_s", "")),'
        ' Message = tostring(column_ifexists("Log_s", ""))'
        f' | where Job == "{job_name}" and isnotempty(Execution)'
    )


def failed_events_query(job_name: str) -> str:
    """KQL: the job's failure events (what the failed-execution alert counts)."""
    return (
        f"{execution_events(job_name)} | where Reason in ({_kql_list(FAILURE_REASONS)})"
        " | project TimeGenerated, Execution, Reason, Message"
    )


def evidence_query(job_name: str) -> str:
    """KQL: one row per execution with its outcome and, for a failed one, its last failure message."""
    failures, successes = _kql_list(FAILURE_REASONS), _kql_list(SUCCESS_REASONS)
    return (
        f"{execution_events(job_name)}"
        f" | extend FailureAt = iff(Reason in ({failures}), TimeGenerated, datetime(null))"
        " | summarize Started = min(TimeGenerated), LastEvent = max(TimeGenerated),"
        f" Failures = countif(Reason in ({failures})), Completions = countif(Reason in ({successes})),"
        " Reasons = make_set(Reason), arg_max(FailureAt, Message) by Execution"
        ' | extend Outcome = case(Failures > 0, "Failed", Completions > 0, "Succeeded", "Running or unknown"),'
        ' LastFailureMessage = iff(Failures > 0, Message, "")'
        " | project Execution, Outcome, Started, LastEvent, Failures, Completions, Reasons, LastFailureMessage"
        " | order by Started desc"
    )


def console_log_query(job_name: str) -> str:
    """KQL: one execution's container output (stdout/stderr), oldest first. A replica's name starts with its
    execution's name."""
    return (
        "ContainerAppConsoleLogs_CL"
        ' | extend Job = tostring(column_ifexists("ContainerJobName_s", "")),'
        ' Replica = tostring(column_ifexists("ContainerGroupName_s", "")),'
        ' Log = tostring(column_ifexists("Log_s", ""))'
        f' | where Job == "{job_name}" and Replica startswith "{EXECUTION_PLACEHOLDER}"'
        " | project TimeGenerated, Replica, Log | order by TimeGenerated asc"
    )


def job_outputs(name: str, job: app.Job, identity: JobIdentity, platform: PlatformRefs) -> dict[str, Any]:
    """The per-job output contract every job kind exports (event jobs add their queue's outputs)."""

    def command(build: Any) -> str:
        # Plain text from config names: an operator's command needs no output (nor the output's tasks) per job.
        return build(name, placement.resource_group)

    placement = platform.placement
    return {
        "resourceId": known_after(
            resource_id(placement.subscription_id, placement.resource_group, "Microsoft.App", "jobs", name), job
        ),
        "name": known_after(name, job),
        "identityPrincipalId": identity.identity.principal_id,
        "startCommand": command(start_command),
        "executionsCommand": command(executions_command),
        "showExecutionCommand": command(show_execution_command),
        "stopCommand": command(stop_command),
        "evidenceQuery": evidence_query(name),
        "consoleLogQuery": console_log_query(name),
    }
