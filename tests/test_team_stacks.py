"""A platform stack and team stacks (issue 17, deliverable 3): a stack with `aca-jobs:platform` and no jobs exports
the platform contract as `platform`; a team stack (`aca-jobs:platformStack` + `aca-jobs:team`) reads it through a
`pulumi:pulumi:StackReference`, registers no environment, workspace or namespace, puts its jobs in the platform's
environment and its own resource group, its queues in the platform's namespace, and grants at the narrowest scopes.
Its jobs are checked against the contract with the same rules, naming the team's keys."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FULL_CONFIG, assert_rule_broken

from components.platform_contract import CONTRACT_VERSION
from components.stack_config import StackConfigError
from tools.offline import MODES, ProgramRun, StackReferenceError, run_program

PLATFORM_STACK = "acme/aca-jobs/platform"
JOB_KEYS = ("aca-jobs:manualJobs", "aca-jobs:eventJobs", "aca-jobs:scheduledJobs")
STACK_REFERENCE = "pulumi:pulumi:StackReference"
NAMESPACE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aca-test/providers/"
    "Microsoft.ServiceBus/namespaces/sb-aca-test"
)


def platform_config() -> dict[str, Any]:
    return {key: value for key, value in copy.deepcopy(FULL_CONFIG).items() if key not in JOB_KEYS}


def team_config(**team: Any) -> dict[str, Any]:
    config = {key: value for key, value in copy.deepcopy(FULL_CONFIG).items() if key != "aca-jobs:platform"}
    config["aca-jobs:platformStack"] = PLATFORM_STACK
    config["aca-jobs:team"] = {"resourceGroup": "rg-team-orders", "tags": {"owner": "orders-team"}, **team}
    return config


@functools.cache
def platform_outputs() -> dict[str, Any]:
    """The platform stack's outputs once deployed, as `pulumi stack output --json` prints them."""
    run = run_program(platform_config(), "platform", stack_file="Pulumi.platform.yaml", mode="deployed")
    return run.outputs


def run_team(config: dict[str, Any], outputs: dict[str, Any] | None = None, mode: str = MODES[0]) -> ProgramRun:
    outputs = platform_outputs() if outputs is None else outputs
    return run_program(
        config, "team-orders", stack_file="Pulumi.team-orders.yaml", mode=mode, stack_outputs={PLATFORM_STACK: outputs}
    )


@pytest.fixture(scope="module", params=MODES)
def team_run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_team(team_config(), mode=request.param)


def test_a_platform_stack_exports_the_contract() -> None:
    contract = platform_outputs()["platform"]
    assert contract["version"] == CONTRACT_VERSION
    assert contract["serviceBus"]["resourceId"] == NAMESPACE_ID
    assert contract["registry"]["server"] == "acrsharedprod.azurecr.io"


def test_a_single_stack_does_not_export_the_contract() -> None:
    run = run_program(copy.deepcopy(FULL_CONFIG), "test", stack_file="Pulumi.test.yaml")
    assert "platform" not in run.outputs


def test_a_team_stack_reads_the_platform_stack(team_run: ProgramRun) -> None:
    [reference] = team_run.by_type(STACK_REFERENCE)
    assert reference.read_id == PLATFORM_STACK and reference.op == "read"


def test_a_team_stack_creates_no_platform_piece(team_run: ProgramRun) -> None:
    for kind in ("app:ManagedEnvironment", "operationalinsights:Workspace", "servicebus:Namespace"):
        assert team_run.by_type(f"azure-native:{kind}") == []
    [group] = team_run.by_type("azure-native:resources:ResourceGroup")
    assert group.wire_inputs["resourceGroupName"] == "rg-team-orders"


def test_team_jobs_run_in_the_platforms_environment_from_the_teams_group(team_run: ProgramRun) -> None:
    environment_id = platform_outputs()["platform"]["environment"]["resourceId"]
    jobs = team_run.by_type("azure-native:app:Job")
    assert len(jobs) == 3
    for job in jobs:
        assert job.wire_inputs["environmentId"] == environment_id
        assert job.wire_inputs["resourceGroupName"] == "rg-team-orders"
    identities = team_run.by_type("azure-native:managedidentity:UserAssignedIdentity")
    assert identities
    for identity in identities:
        assert identity.wire_inputs["resourceGroupName"] == "rg-team-orders"


def test_team_queues_go_into_the_platforms_namespace_and_are_granted_there(team_run: ProgramRun) -> None:
    [queue] = team_run.by_type("azure-native:servicebus:Queue")
    assert (queue.wire_inputs["namespaceName"], queue.wire_inputs["resourceGroupName"]) == (
        "sb-aca-test",
        "rg-aca-test",
    )
    scopes = [r.wire_inputs["scope"] for r in team_run.by_type("azure-native:authorization:RoleAssignment")]
    assert f"{NAMESPACE_ID}/queues/orders" in scopes and NAMESPACE_ID not in scopes


def test_team_alerts_notify_the_platforms_action_group(team_run: ProgramRun) -> None:
    action_group = platform_outputs()["platform"]["actionGroupId"]
    rules = team_run.by_type("azure-native:monitor:ScheduledQueryRule")
    assert len(rules) == 3  # one failed-execution rule per job
    for rule in rules:
        assert rule.wire_inputs["actions"]["actionGroups"] == [action_group]
        assert rule.wire_inputs["resourceGroupName"] == "rg-team-orders"


def team_error(config: dict[str, Any], outputs: dict[str, Any] | None = None) -> str:
    with pytest.raises(StackConfigError) as raised:
        run_team(config, outputs)
    return str(raised.value)


def test_a_team_job_on_a_profile_the_platform_lacks_names_the_teams_key() -> None:
    config = team_config()
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["workloadProfile"] = "gpu"
    message = team_error(config)
    assert "Pulumi.team-orders.yaml: aca-jobs:manualJobs.job-orders-backfill.workloadProfile: " in message
    assert "the platform stack `acme/aca-jobs/platform`'s environment.workloadProfiles" in message


def test_an_event_job_on_a_platform_without_a_namespace_is_refused() -> None:
    outputs = copy.deepcopy(platform_outputs())
    outputs["platform"]["serviceBus"] = None
    message = team_error(team_config(), outputs)
    assert "aca-jobs:eventJobs: event jobs need a Service Bus namespace, and the platform stack" in message


def test_the_teams_core_budget_bounds_its_jobs() -> None:
    message = team_error(team_config(coreBudget=1))
    assert "exceeds the team's coreBudget of 1" in message and "aca-jobs:team.coreBudget" in message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda outputs: outputs["platform"].update(version=CONTRACT_VERSION + 1), "of version 2; this program reads"),
        (lambda outputs: outputs.pop("platform"), "has no `platform` output"),
        (lambda outputs: outputs["platform"].pop("registry"), "is not a platform contract"),
        (
            lambda outputs: outputs["platform"]["environment"]["workloadProfiles"].append(
                {
                    "name": "gpu",
                    "workloadProfileType": "NC24-A100",
                    "minimumCount": 0,
                    "maximumCount": 1,
                    "nodeCores": 24,
                    "nodeMemoryGib": 220,
                }
            ),
            "workload profiles are not ones this program knows",
        ),
    ],
    ids=["other-version", "no-platform-output", "not-a-contract", "unknown-profile-type"],
)
def test_a_contract_this_program_cannot_read_is_refused(change, words: str) -> None:
    outputs = copy.deepcopy(platform_outputs())
    change(outputs)
    message = team_error(team_config(), outputs)
    assert "Pulumi.team-orders.yaml: aca-jobs:platformStack: " in message and words in message


def _team_job_mounting(storage: str) -> dict[str, Any]:
    config = team_config()
    job = config["aca-jobs:manualJobs"]["job-orders-backfill"]
    job["volumes"] = {"reports": {"type": "AzureFile", "storage": storage}}
    job["volumeMounts"] = [{"volume": "reports", "mountPath": "/reports"}]
    return config


def _outputs_with_storage() -> dict[str, Any]:
    outputs = copy.deepcopy(platform_outputs())
    outputs["platform"]["environment"]["storages"] = [{"name": "reports", "accessMode": "ReadOnly"}]
    return outputs


def test_a_team_job_mounts_a_storage_the_platform_registers() -> None:
    run = run_team(_team_job_mounting("reports"), _outputs_with_storage())
    job = next(r for r in run.by_type("azure-native:app:Job") if r.name == "job-orders-backfill")
    assert job.inputs["template"]["volumes"] == [
        {"name": "reports", "storageType": "AzureFile", "storageName": "reports"}
    ]


def _outputs_of_an_earlier_release() -> dict[str, Any]:
    """A contract written before storages were part of it: it has none, which is what it means."""
    outputs = copy.deepcopy(platform_outputs())
    del outputs["platform"]["environment"]["storages"]
    return outputs


@pytest.mark.parametrize(
    "outputs", [_outputs_of_an_earlier_release, _outputs_with_storage], ids=["contract-without-storages", "other"]
)
def test_a_team_job_mounting_a_storage_the_platform_lacks_names_the_teams_key(outputs) -> None:
    message = team_error(_team_job_mounting("archive"), outputs())
    assert "Pulumi.team-orders.yaml: aca-jobs:manualJobs.job-orders-backfill.volumes.reports.storage: " in message
    assert "the platform stack `acme/aca-jobs/platform`'s environment.storages" in message


def test_a_platform_stack_the_run_does_not_know_is_an_error() -> None:
    with pytest.raises(StackReferenceError):
        run_program(team_config(), "team-orders", stack_file="Pulumi.team-orders.yaml")


BROKEN = [
    (
        "both-platform-and-platform-stack",
        lambda c: c.update({"aca-jobs:platformStack": PLATFORM_STACK}),
        "aca-jobs:platformStack",
        "not both",
    ),
    (
        "malformed-stack-name",
        lambda c: (
            c.pop("aca-jobs:platform"),
            c.update({"aca-jobs:platformStack": "platform", "aca-jobs:team": {"resourceGroup": "rg-t"}}),
        ),
        "aca-jobs:platformStack",
        "is not a fully qualified stack name",
    ),
    (
        "team-stack-without-team",
        lambda c: (c.pop("aca-jobs:platform"), c.update({"aca-jobs:platformStack": PLATFORM_STACK})),
        "aca-jobs:team",
        "needs its own resource group",
    ),
    (
        "team-with-its-own-platform",
        lambda c: c.update({"aca-jobs:team": {"resourceGroup": "rg-t"}}),
        "aca-jobs:team",
        "this stack has its own platform",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "words"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_bad_team_inputs_are_refused_naming_the_key(mutate, key: str, words: str) -> None:
    config = copy.deepcopy(FULL_CONFIG)
    mutate(config)
    assert_rule_broken(config, key, words)


# --- the offline preview of the example organisation (examples/org) ------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "org"


def preview_example(preview_main, stack: str, *extra: str) -> int:
    return preview_main(
        [
            "--stack",
            stack,
            "--config-file",
            str(EXAMPLES / f"Pulumi.{stack}.yaml"),
            "--policy-config",
            str(EXAMPLES.parent.parent / "policy" / "prod.json"),
            *extra,
        ]
    )


@pytest.mark.parametrize("mode", MODES)
def test_the_example_team_stack_previews_clean_reading_the_platform_stack_beside_it(
    preview_main, capsys, mode: str
) -> None:
    assert preview_example(preview_main, "team-billing", "--as", mode) == 0
    out = capsys.readouterr().out
    assert " >   " in out and "pulumi:pulumi:StackReference" in out and "read (id=acme/aca-jobs/platform)" in out
    assert "can't run policy" not in out and "[mandatory]" not in out


def test_platform_outputs_from_a_file(preview_main, capsys, tmp_path: Path) -> None:
    outputs = tmp_path / "platform.json"
    outputs.write_text(json.dumps(platform_outputs()))
    assert preview_example(preview_main, "team-orders", "--json", "--platform-outputs", str(outputs)) == 0
    document = json.loads(capsys.readouterr().out)
    [reference] = [r for r in document["resources"] if r["type"] == STACK_REFERENCE]
    assert reference["op"] == "read" and reference["id"] == PLATFORM_STACK


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", "is not JSON"), ('{"jobs": {}}', "has no `platform` output"), ("[1]", "has no `platform` output")],
    ids=["not-json", "no-platform", "not-a-map"],
)
def test_a_bad_platform_outputs_file_exits_2_naming_it(preview_main, capsys, tmp_path: Path, content, words) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(content)
    assert preview_example(preview_main, "team-orders", "--platform-outputs", str(outputs)) == 2
    err = capsys.readouterr().err
    assert f"{outputs}: " in err and words in err and "Traceback" not in err
