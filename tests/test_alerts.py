"""Operations: the alert rules as registered (scopes, queries, metrics, dimensions, thresholds, action group wiring),
the operator outputs, and the alert config rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import FULL_CONFIG, arm_id, assert_rule_broken, find, run_committed

from components.operations import console_log_query, evidence_query, execution_events, failed_events_query
from tools.offline import ProgramRun, run_program

ACTION_GROUP = "azure-native:monitor:ActionGroup"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
WORKSPACE = "azure-native:operationalinsights:Workspace"
NAMESPACE = "azure-native:servicebus:Namespace"
JOBS = ("job-orders-backfill", "job-orders-nightly", "job-orders-queue")
EXISTING_GROUP = (
    "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-ops/providers/"
    "Microsoft.Insights/actionGroups/ag-platform-oncall"
)
ALERTS = "aca-jobs:platform.alerts"


def run(config: dict[str, Any]) -> ProgramRun:
    return run_program(config, "test", stack_file="Pulumi.test.yaml")


@pytest.fixture(scope="module")
def alerting() -> ProgramRun:
    return run(copy.deepcopy(FULL_CONFIG))


def test_the_stack_creates_an_action_group_mailing_the_addresses(alerting: ProgramRun) -> None:
    group = find(alerting, ACTION_GROUP)
    assert group.inputs == {
        "actionGroupName": "ag-aca-env-test",
        "resourceGroupName": "rg-aca-test",
        "location": "Global",
        "groupShortName": "aca-env-test",  # the environment name, at most 12 characters
        "enabled": True,
        "emailReceivers": [{"name": "email-0", "emailAddress": "oncall@example.com", "useCommonAlertSchema": True}],
        "tags": {"owner": "platform-team"},
    }


@pytest.mark.parametrize("job", JOBS)
def test_each_job_has_a_failed_execution_log_alert_on_the_workspace(alerting: ProgramRun, job: str) -> None:
    rule = find(alerting, LOG_ALERT, f"{job}-failed-executions")
    inputs = rule.wire_inputs
    assert inputs["ruleName"] == f"alert-{job}-failed"
    assert inputs["kind"] == "LogAlert" and inputs["location"] == "koreacentral"
    assert inputs["scopes"] == [arm_id(find(alerting, WORKSPACE))]  # the workspace only
    assert inputs["criteria"] == {
        "allOf": [
            {
                "query": failed_events_query(job),
                "timeAggregation": "Count",
                "operator": "GreaterThan",
                "threshold": 0.0,
                "failingPeriods": {"numberOfEvaluationPeriods": 1.0, "minFailingPeriodsToAlert": 1.0},
            }
        ]
    }
    assert (inputs["evaluationFrequency"], inputs["windowSize"], inputs["severity"]) == ("PT5M", "PT15M", 1.0)
    assert inputs["autoMitigate"] is True and inputs["enabled"] is True
    assert inputs["actions"] == {"actionGroups": [arm_id(find(alerting, ACTION_GROUP))]}
    query = inputs["criteria"]["allOf"][0]["query"]
    assert f'Job == "{job}"' in query
    assert 'Reason in ("Failed", "BackoffLimitExceeded", "DeadlineExceeded")' in query


def metric_rule(result: ProgramRun, suffix: str) -> dict[str, Any]:
    return find(result, METRIC_ALERT, f"job-orders-queue-{suffix}").wire_inputs


def test_dead_letters_alert_on_the_namespace_filtered_to_the_queue(alerting: ProgramRun) -> None:
    rule = metric_rule(alerting, "dead-letters")
    assert rule["scopes"] == [arm_id(find(alerting, NAMESPACE))]  # the namespace only
    assert rule["location"] == "global"
    assert rule["criteria"] == {
        "odataType": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
        "allOf": [
            {
                "criterionType": "StaticThresholdCriterion",
                "name": "dead-lettered-messages",
                "metricNamespace": "Microsoft.ServiceBus/namespaces",
                "metricName": "DeadletteredMessages",
                "dimensions": [{"name": "EntityName", "operator": "Include", "values": ["orders"]}],
                "operator": "GreaterThan",
                "threshold": 0.0,
                "timeAggregation": "Maximum",
            }
        ],
    }
    assert rule["actions"] == [{"actionGroupId": arm_id(find(alerting, ACTION_GROUP))}]
    assert rule["severity"] == 2.0 and rule["autoMitigate"] is True


def test_a_stuck_backlog_alerts_after_the_configured_minutes(alerting: ProgramRun) -> None:
    rule = metric_rule(alerting, "stuck-backlog")
    criterion = rule["criteria"]["allOf"][0]
    assert rule["scopes"] == [arm_id(find(alerting, NAMESPACE))]
    assert (criterion["metricName"], criterion["timeAggregation"], criterion["threshold"]) == (
        "ActiveMessages",
        "Minimum",
        100.0,
    )
    assert criterion["dimensions"] == [{"name": "EntityName", "operator": "Include", "values": ["orders"]}]
    assert (rule["windowSize"], rule["evaluationFrequency"]) == ("PT30M", "PT5M")


def test_settings_from_config_reach_the_rules() -> None:
    config = copy.deepcopy(FULL_CONFIG)
    config["aca-jobs:platform"]["alerts"].update(
        failedExecutions={"evaluationFrequency": "PT15M", "windowSize": "PT1H", "severity": 0},
        stuckBacklog={"threshold": 500, "minutes": 60, "severity": 3},
    )
    result = run(config)
    failed = find(result, LOG_ALERT, "job-orders-queue-failed-executions").wire_inputs
    assert (failed["evaluationFrequency"], failed["windowSize"], failed["severity"]) == ("PT15M", "PT1H", 0.0)
    stuck = metric_rule(result, "stuck-backlog")
    assert (stuck["windowSize"], stuck["severity"], stuck["criteria"]["allOf"][0]["threshold"]) == ("PT1H", 3.0, 500.0)


def test_an_existing_action_group_is_used_and_none_is_created() -> None:
    config = copy.deepcopy(FULL_CONFIG)
    config["aca-jobs:platform"]["alerts"] = {"actionGroupId": EXISTING_GROUP}
    result = run(config)
    assert result.by_type(ACTION_GROUP) == []
    assert {tuple(r.inputs["actions"]["actionGroups"]) for r in result.by_type(LOG_ALERT)} == {(EXISTING_GROUP,)}
    assert {r.inputs["actions"][0]["actionGroupId"] for r in result.by_type(METRIC_ALERT)} == {EXISTING_GROUP}


@pytest.mark.parametrize("alerts", [None, {"emails": ["oncall@example.com"], "enabled": False}])
def test_no_rules_without_alerts_or_when_disabled(alerts: dict[str, Any] | None) -> None:
    config = copy.deepcopy(FULL_CONFIG)
    if alerts is None:
        del config["aca-jobs:platform"]["alerts"]
    else:
        config["aca-jobs:platform"]["alerts"] = alerts
    result = run(config)
    assert [r.type for r in result.resources if r.type.startswith("azure-native:monitor:")] == []
    assert not {"failedExecutionAlertId", "deadLetterAlertId"} & set(result.outputs["jobs"]["job-orders-queue"])


# --- operator outputs -------------------------------------------------------------------------------------


def test_every_job_exports_the_operator_commands_and_queries(alerting: ProgramRun) -> None:
    for job in JOBS:
        outputs = alerting.outputs["jobs"][job]
        assert outputs["stopCommand"] == (
            f"az containerapp job stop --name {job} --resource-group rg-aca-test --job-execution-name <execution-name>"
        )
        assert outputs["showExecutionCommand"] == (
            f"az containerapp job execution show --name {job} --resource-group rg-aca-test "
            "--job-execution-name <execution-name>"
        )
        assert outputs["consoleLogQuery"] == console_log_query(job)
        assert "ContainerAppConsoleLogs_CL" in outputs["consoleLogQuery"]
        assert 'Replica startswith "<execution-name>"' in outputs["consoleLogQuery"]
        assert outputs["evidenceQuery"] == evidence_query(job)
        assert outputs["failedExecutionAlertId"] == arm_id(find(alerting, LOG_ALERT, f"{job}-failed-executions"))


def test_the_evidence_query_keeps_the_failure_message_and_shares_the_alerts_filter() -> None:
    evidence, alert = evidence_query("job-x"), failed_events_query("job-x")
    assert evidence.startswith(execution_events("job-x")) and alert.startswith(execution_events("job-x"))
    assert "arg_max(FailureAt, Message)" in evidence
    assert "LastFailureMessage" in evidence.split("| project", 1)[1]  # built and kept, not dropped


def test_event_jobs_export_dead_letter_handling(alerting: ProgramRun) -> None:
    outputs = alerting.outputs["jobs"]["job-orders-queue"]
    assert outputs["deadLetterPath"] == "orders/$DeadLetterQueue"
    peek = outputs["deadLetterPeekCommand"]
    assert "ServiceBusClient('sb-aca-test.servicebus.windows.net', DefaultAzureCredential())" in peek
    assert "get_queue_receiver('orders', sub_queue=ServiceBusSubQueue.DEAD_LETTER)" in peek
    assert "peek_messages(" in peek and "receive_messages" not in peek  # a look, never a removal
    assert outputs["deadLetterAlertId"] == arm_id(find(alerting, METRIC_ALERT, "job-orders-queue-dead-letters"))
    assert outputs["stuckBacklogAlertId"] == arm_id(find(alerting, METRIC_ALERT, "job-orders-queue-stuck-backlog"))


# --- the committed stacks ---------------------------------------------------------------------------------


def test_prod_alerts_on_every_job_and_dev_on_none() -> None:
    _, prod = run_committed("prod")
    assert len(prod.by_type(ACTION_GROUP)) == 1
    jobs = sorted(r.name for r in prod.by_type("azure-native:app:Job"))
    assert sorted(r.name for r in prod.by_type(LOG_ALERT)) == [f"{job}-failed-executions" for job in jobs]
    assert set(JOBS) < set(jobs)
    assert sorted(r.name for r in prod.by_type(METRIC_ALERT)) == [
        "job-orders-queue-dead-letters",
        "job-orders-queue-stuck-backlog",
    ]
    _, dev = run_committed("dev")
    assert [r for r in dev.resources if r.type.startswith("azure-native:monitor:")] == []


# --- config rules -------------------------------------------------------------------------------------------


def with_alerts(**alerts: Any) -> dict[str, Any]:
    config = copy.deepcopy(FULL_CONFIG)
    config["aca-jobs:platform"]["alerts"] = alerts
    return config


@pytest.mark.parametrize(
    ("alerts", "key", "words"),
    [
        ({"emails": ["oncall-at-example.com"]}, f"{ALERTS}.emails.0", "is not an email address"),
        ({"emails": []}, f"{ALERTS}.emails", "nobody would be told"),
        ({"emails": ["a@example.com", "A@example.com"]}, f"{ALERTS}.emails", "twice"),
        ({"emails": ["a@example.com"], "actionGroupId": EXISTING_GROUP}, f"{ALERTS}.actionGroupId", "not both"),
        ({}, f"{ALERTS}.emails", "needs exactly one of `emails`"),
        (
            {"actionGroupId": EXISTING_GROUP.replace("actionGroups", "metricAlerts")},
            f"{ALERTS}.actionGroupId",
            "is not an action group resource id",
        ),
        ({"emails": ["a@example.com"], "shortName": "aca-jobs-production"}, f"{ALERTS}.shortName", "1-12"),
        ({"actionGroupId": EXISTING_GROUP, "shortName": "oncall"}, f"{ALERTS}.shortName", "existing one"),
        (
            {"emails": ["a@example.com"], "failedExecutions": {"evaluationFrequency": "PT2M"}},
            f"{ALERTS}.failedExecutions.evaluationFrequency",
            "not an evaluation frequency",
        ),
        (
            {"emails": ["a@example.com"], "failedExecutions": {"evaluationFrequency": "PT1H", "windowSize": "PT15M"}},
            f"{ALERTS}.failedExecutions.windowSize",
            "from the evaluation frequency",
        ),
        (
            {"emails": ["a@example.com"], "stuckBacklog": {"minutes": 45}},
            f"{ALERTS}.stuckBacklog.minutes",
            "not a window a metric alert takes",
        ),
        ({"emails": ["a@example.com"], "deadLetters": {"severity": 5}}, f"{ALERTS}.deadLetters.severity", "at most 4"),
        ({"emails": ["a@example.com"], "email": ["b@example.com"]}, f"{ALERTS}.email", "did you mean `emails`"),
    ],
)
def test_a_broken_alert_setting_names_its_key(alerts: dict[str, Any], key: str, words: str) -> None:
    assert_rule_broken(with_alerts(**alerts), key, words)
