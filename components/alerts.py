"""Alert rules: who is told when a job fails, and the metric alert an event source's own alerts are built with
(the Service Bus queue's: `components/event_sources/service_bus.py`).

Verified against the azure-native SDK (`pulumi_azure_native.monitor`: `ActionGroup` at API 2024-10-01-preview,
`ScheduledQueryRule` at 2025-01-01-preview, `MetricAlert` at 2018-03-01), the REST specs
(Azure/azure-rest-api-specs `specification/monitor/resource-manager/Microsoft.Insights/preview/2025-01-01-preview/
examples/createOrUpdateScheduledQueryRule.json`: `operator: GreaterThan`, `timeAggregation`, `failingPeriods`).

- **Failed executions**: a log search alert over the environment's workspace on the system-log reasons that mean a
  replica failed (`operations.failed_events_query`, the same filter the evidence query counts with). Metric alerts
  on `Microsoft.App/jobs` `Executions` are disputed (microsoft/azure-container-apps issue 1352), the logs are not.
- **An event source's alerts** (`metric_alert`), each in its source's module under `components/event_sources/`:
  the Service Bus queue's dead letters and stuck backlog, the storage account's queue backlog, the event hub's
  incoming events that no consumer reads.

Every rule is scoped to the workspace or the source's one resource only, and sends to the stack's action group.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor

from components.arm import known_after, resource_id
from components.config import AlertsConfig
from components.operations import failed_events_query

LOG_ALERT_KIND = "LogAlert"
SINGLE_RESOURCE_CRITERIA = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"


@dataclass(frozen=True)
class AlertRefs:
    """What a job's alert rules need from the platform: the settings, where rules notify and query, and where they
    live (the stack's resource group, location and tags)."""

    settings: AlertsConfig
    action_group_id: pulumi.Input[str]
    workspace_id: pulumi.Output[str]
    subscription_id: pulumi.Input[str]
    resource_group: str  # the name from config
    resource_group_name: pulumi.Output[str]  # the same, depending on the resource group resource
    location: str
    tags: dict[str, str]

    def known_id(self, kind: str, name: str, resource: pulumi.Resource) -> pulumi.Output[str]:
        """The ARM id of a `Microsoft.Insights/<kind>` resource of the stack, composed from its name (known in a first
        preview) and depending on the resource that creates it."""
        return known_after(
            resource_id(self.subscription_id, self.resource_group, "Microsoft.Insights", kind, name), resource
        )


def rule_name(job_name: str, what: str) -> str:
    """The physical name of one of a job's alert rules: `alert-<job>-failed`, `-dead-letters`, `-backlog`."""
    return f"alert-{job_name}-{what}"


def failed_executions_alert(parent: pulumi.Resource, job_name: str, alerts: AlertRefs) -> pulumi.Output[str]:
    """The job's failed-execution log alert on the workspace; returns the rule's id."""
    settings = alerts.settings.failed_executions
    physical_name = rule_name(job_name, "failed")
    rule = monitor.ScheduledQueryRule(
        f"{job_name}-failed-executions",
        rule_name=physical_name,
        resource_group_name=alerts.resource_group_name,
        location=alerts.location,
        kind=LOG_ALERT_KIND,
        display_name=f"{job_name}: an execution failed",
        description=(
            f"A replica of job {job_name} failed (Failed, BackoffLimitExceeded or DeadlineExceeded). Start with the "
            "job's evidenceQuery and consoleLogQuery outputs; see docs/operations.md."
        ),
        scopes=[alerts.workspace_id],
        criteria=monitor.ScheduledQueryRuleCriteriaArgs(
            all_of=[
                monitor.ConditionArgs(
                    query=failed_events_query(job_name),
                    time_aggregation="Count",
                    operator="GreaterThan",
                    threshold=0,
                    failing_periods=monitor.ConditionFailingPeriodsArgs(
                        number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                    ),
                )
            ]
        ),
        evaluation_frequency=settings.evaluation_frequency,
        window_size=settings.window_size,
        severity=settings.severity,
        # Resolved by itself once the window no longer holds a failure.
        auto_mitigate=True,
        enabled=True,
        actions=monitor.ActionsArgs(action_groups=[alerts.action_group_id]),
        tags=alerts.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return alerts.known_id("scheduledQueryRules", physical_name, rule)


def metric_alert(
    parent: pulumi.Resource,
    logical_name: str,
    physical_name: str,
    description: str,
    criteria: monitor.MetricCriteriaArgs | list[monitor.MetricCriteriaArgs],
    frequency: str,
    window: str,
    severity: int,
    scope: pulumi.Input[str],
    alerts: AlertRefs,
) -> pulumi.Output[str]:
    """A metric alert rule on the one resource `scope` (an event source's metrics), firing when every criterion is
    met; returns the rule's id."""
    rule = monitor.MetricAlert(
        logical_name,
        rule_name=physical_name,
        resource_group_name=alerts.resource_group_name,
        # Metric alert rules are global resources.
        location="global",
        description=description,
        scopes=[scope],
        criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
            odata_type=SINGLE_RESOURCE_CRITERIA, all_of=criteria if isinstance(criteria, list) else [criteria]
        ),
        evaluation_frequency=frequency,
        window_size=window,
        severity=severity,
        auto_mitigate=True,
        enabled=True,
        actions=[monitor.MetricAlertActionArgs(action_group_id=alerts.action_group_id)],
        tags=alerts.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return alerts.known_id("metricAlerts", physical_name, rule)


def window_of(minutes: int) -> str:
    """A metric alert window (`stuckBacklog.minutes`, one of `METRIC_ALERT_WINDOW_MINUTES`) as ISO-8601."""
    return f"PT{minutes}M" if minutes < 60 else f"PT{minutes // 60}H"


def stack_alerts(
    parent: pulumi.Resource,
    settings: AlertsConfig,
    environment_name: str,
    workspace_id: pulumi.Output[str],
    subscription_id: pulumi.Input[str],
    resource_group: str,
    resource_group_name: pulumi.Output[str],
    location: str,
    tags: dict[str, str],
) -> AlertRefs:
    """What the stack's alert rules need, with the action group they notify: the stack's own (mailing `emails`),
    created here, or the existing `actionGroupId`."""
    alerts = AlertRefs(
        settings=settings,
        action_group_id=settings.action_group_id or "",
        workspace_id=workspace_id,
        subscription_id=subscription_id,
        resource_group=resource_group,
        resource_group_name=resource_group_name,
        location=location,
        tags=tags,
    )
    if settings.action_group_id is not None:
        return alerts
    assert settings.emails is not None  # exactly one of the two (AlertsConfig)
    name = f"ag-{environment_name}"
    group = monitor.ActionGroup(
        "action-group",
        action_group_name=name,
        resource_group_name=resource_group_name,
        # Action groups are global resources.
        location="Global",
        group_short_name=settings.group_short_name(environment_name),
        enabled=True,
        email_receivers=[
            monitor.MicrosoftCommonEmailReceiverArgs(
                name=f"email-{index}", email_address=email, use_common_alert_schema=True
            )
            for index, email in enumerate(settings.emails)
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return dataclasses.replace(alerts, action_group_id=alerts.known_id("actionGroups", name, group))
