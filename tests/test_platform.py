"""JobsPlatform: the resource group, Log Analytics workspace and Container Apps environment."""

from __future__ import annotations

from conftest import assert_inputs, find

from tools.offline import ProgramRun

RG = "azure-native:resources:ResourceGroup"
WORKSPACE = "azure-native:operationalinsights:Workspace"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
PLATFORM = "aca-jobs:index:JobsPlatform"


def test_children_are_parented_to_the_platform_component(seed_run: ProgramRun) -> None:
    platform = find(seed_run, PLATFORM)
    assert platform.parent == seed_run.stack_urn
    for type_ in (RG, WORKSPACE, ENVIRONMENT):
        assert find(seed_run, type_).parent == platform.urn


def test_resource_group_takes_its_name_and_location_from_config(seed_run: ProgramRun) -> None:
    assert_inputs(
        find(seed_run, RG),
        {"resourceGroupName": "rg-aca-test", "location": "koreacentral", "tags": {"owner": "platform-team"}},
    )


def test_workspace_keeps_logs_as_long_as_configured(seed_run: ProgramRun) -> None:
    workspace = find(seed_run, WORKSPACE)
    assert_inputs(
        workspace,
        {
            "workspaceName": "log-rg-aca-test",
            "resourceGroupName": "rg-aca-test",
            "retentionInDays": 90,
            "sku": {"name": "PerGB2018"},
        },
    )
    assert workspace.dependencies == [find(seed_run, RG).urn]


def test_renaming_the_environment_keeps_the_workspace(run_stack, seed_config) -> None:
    seed_config["aca-jobs:platform"]["environment"]["name"] = "aca-env-renamed"
    run = run_stack(seed_config)
    assert_inputs(find(run, WORKSPACE), {"workspaceName": "log-rg-aca-test"})
    assert_inputs(find(run, ENVIRONMENT), {"environmentName": "aca-env-renamed"})


def test_workspace_name_can_be_pinned(run_stack, seed_config) -> None:
    seed_config["aca-jobs:platform"]["environment"]["workspaceName"] = "log-legacy-name"
    assert_inputs(find(run_stack(seed_config), WORKSPACE), {"workspaceName": "log-legacy-name"})


def test_environment_sends_logs_to_the_workspace_with_the_key_as_a_secret(deployed_seed_run: ProgramRun) -> None:
    seed_run = deployed_seed_run  # the workspace exists, so its customer id and key can be read
    environment = find(seed_run, ENVIRONMENT)
    workspace = find(seed_run, WORKSPACE)
    assert_inputs(environment, {"environmentName": "aca-env-test", "location": "koreacentral"})
    assert_inputs(
        environment,
        {
            "appLogsConfiguration": {
                "destination": "log-analytics",
                "logAnalyticsConfiguration": {
                    "customerId": seed_run.outputs["workspaceCustomerId"],
                    "sharedKey": "mock-primary-key",
                },
            }
        },
        plain=True,
    )
    assert "appLogsConfiguration.logAnalyticsConfiguration.sharedKey" in environment.secret_paths
    assert environment.inputs["appLogsConfiguration"]["logAnalyticsConfiguration"]["sharedKey"] == "[secret]"
    assert workspace.urn in environment.property_dependencies["appLogsConfiguration"]


def test_stateful_resources_are_protected_when_the_stack_says_so(seed_run: ProgramRun) -> None:
    for type_ in (RG, WORKSPACE, ENVIRONMENT):
        assert find(seed_run, type_).protect is True, type_


def test_nothing_is_protected_by_default(run_stack, seed_config) -> None:
    del seed_config["aca-jobs:platform"]["protect"]
    run = run_stack(seed_config)
    assert [r.name for r in run.resources if r.protect] == []


def test_what_holds_data_outlives_a_config_edit_and_the_rest_does_not(run_stack, event_config) -> None:
    # Logs and the namespace (so every queue in it) are left in Azure when a config edit removes or renames them;
    # protect or not. The environment holds no data and the resource group is a container: both stay deletable.
    del event_config["aca-jobs:platform"]["protect"]
    run = run_stack(event_config)
    retained = {r.type for r in run.resources if r.retain_on_delete}
    assert {WORKSPACE, "azure-native:servicebus:Namespace"} <= retained
    assert not {RG, ENVIRONMENT} & retained
