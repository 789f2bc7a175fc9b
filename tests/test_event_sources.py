"""Storage Queue and Event Hubs event jobs, as registered: the scale rule and its metadata, the scaler identity
(lifecycle None) on the rule, each identity's grants at the one entity, what the stack creates for each source and
keeps when a job leaves, and the config rules of each source block."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from conftest import EVENT_SEED_CONFIG, arm_id, assert_rule_broken, config_error, find

from policy.aca_facts.arm_id import ArmId
from policy.aca_facts.roles import (
    ACR_PULL,
    DATA_PLANE_ROLES_BY_GUID,
    EVENT_HUBS_DATA_RECEIVER,
    SERVICE_BUS_DATA_OWNER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR,
    STORAGE_QUEUE_DATA_MESSAGE_SENDER,
    STORAGE_QUEUE_DATA_READER,
)
from tools.offline import DEPLOYED, NEW_STACK, ProgramRun, Registration, run_program

JOB = "azure-native:app:Job"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
STORAGE_QUEUE = "azure-native:storage:Queue"
CONTAINER = "azure-native:storage:BlobContainer"
CONSUMER_GROUP = "azure-native:eventhub:ConsumerGroup"
SUB = "00000000-0000-0000-0000-000000000000"
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stinvoices"
CHECKPOINTS = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stcheckpoints"
NAMESPACE = f"/subscriptions/{SUB}/resourceGroups/rg-events/providers/Microsoft.EventHub/namespaces/evh-telemetry"
QUEUE_ID = f"{ACCOUNT}/queueServices/default/queues/invoices"
POISON_ID = f"{ACCOUNT}/queueServices/default/queues/invoices-poison"
HUB_ID = f"{NAMESPACE}/eventhubs/telemetry"
CONTAINER_ID = f"{CHECKPOINTS}/blobServices/default/containers/telemetry-checkpoints"
SQ_JOB = "job-invoices"
EH_JOB = "job-telemetry"
EVENT_JOBS = "aca-jobs:eventJobs"


def storage_queue_job() -> dict[str, Any]:
    return {
        "image": "acrsharedprod.azurecr.io/jobs/invoices:v1.0.0",
        "storageQueue": {"accountId": ACCOUNT, "queue": "invoices"},
        "messageCount": 5,
        "activationMessageCount": 1,
        "maxExecutions": 3,
    }


def event_hub_job() -> dict[str, Any]:
    return {
        "image": "acrsharedprod.azurecr.io/jobs/telemetry:v1.0.0",
        "eventHub": {
            "namespaceId": NAMESPACE,
            "name": "telemetry",
            "consumerGroup": "job-telemetry",
            "checkpoint": {"accountId": CHECKPOINTS, "container": "telemetry-checkpoints"},
        },
        "messageCount": 500,
        "maxExecutions": 2,
    }


def with_new_sources(config: dict[str, Any]) -> dict[str, Any]:
    """The event seed (a Service Bus job) with one Storage Queue job and one Event Hubs job."""
    config[EVENT_JOBS][SQ_JOB] = storage_queue_job()
    config[EVENT_JOBS][EH_JOB] = event_hub_job()
    return config


@pytest.fixture
def sources_config(event_config: dict[str, Any]) -> dict[str, Any]:
    return with_new_sources(event_config)


@pytest.fixture(scope="module")
def sources_run() -> ProgramRun:
    """One first-preview run shared by the tests that only read it."""
    return run_program(with_new_sources(copy.deepcopy(EVENT_SEED_CONFIG)), "test", stack_file="Pulumi.test.yaml")


def scale_rule(run: ProgramRun, job: str) -> dict[str, Any]:
    (rule,) = find(run, JOB, job).inputs["configuration"]["eventTriggerConfig"]["scale"]["rules"]
    return rule


def grants_of(run: ProgramRun, identity: Registration) -> dict[str, set[str]]:
    """Role name -> scopes of the grants to `identity` (matched by the engine's property dependency of
    `principalId`: its value is unknown in a first preview)."""
    found: dict[str, set[str]] = {}
    for grant in run.by_type(ROLE_ASSIGNMENT):
        if grant.property_dependencies.get("principalId") == [identity.urn]:
            guid = grant.inputs["roleDefinitionId"].rsplit("/", 1)[-1]
            role = DATA_PLANE_ROLES_BY_GUID.get(guid)
            name = role.display_name if role else ("AcrPull" if guid == ACR_PULL.guid else guid)
            found.setdefault(name, set()).add(grant.inputs["scope"])
    return found


def test_storage_queue_rule_is_azure_queue_with_string_metadata_and_the_scaler_identity(sources_run) -> None:
    scaler = find(sources_run, IDENTITY, f"{SQ_JOB}-scaler")
    assert scale_rule(sources_run, SQ_JOB) == {
        "name": "storage-queue-backlog",
        "type": "azure-queue",
        "metadata": {
            "accountName": "stinvoices",
            "queueName": "invoices",
            "queueLength": "5",
            "activationQueueLength": "1",
        },
        "identity": arm_id(scaler),
    }


def test_event_hub_rule_is_azure_eventhub_with_blob_metadata_checkpoints_and_the_scaler_identity(sources_run) -> None:
    scaler = find(sources_run, IDENTITY, f"{EH_JOB}-scaler")
    assert scale_rule(sources_run, EH_JOB) == {
        "name": "unprocessed-events",
        "type": "azure-eventhub",
        "metadata": {
            "eventHubNamespace": "evh-telemetry",
            "eventHubName": "telemetry",
            "consumerGroup": "job-telemetry",
            "unprocessedEventThreshold": "500",
            "activationUnprocessedEventThreshold": "0",
            "storageAccountName": "stcheckpoints",
            "blobContainer": "telemetry-checkpoints",
            "checkpointStrategy": "blobMetadata",
        },
        "identity": arm_id(scaler),
    }


@pytest.mark.parametrize("job", [SQ_JOB, EH_JOB])
def test_the_scaler_identity_is_listed_with_lifecycle_none_and_the_code_identity_with_main(sources_run, job) -> None:
    scaler = find(sources_run, IDENTITY, f"{job}-scaler")
    workload = find(sources_run, IDENTITY, f"{job}-workload")
    assert find(sources_run, JOB, job).inputs["configuration"]["identitySettings"] == [
        {"identity": arm_id(scaler), "lifecycle": "None"},
        {"identity": arm_id(workload), "lifecycle": "Main"},
    ]


def test_storage_queue_grants_are_at_the_queue_and_its_poison_queue_only(sources_run) -> None:
    scaler = grants_of(sources_run, find(sources_run, IDENTITY, f"{SQ_JOB}-scaler"))
    workload = grants_of(sources_run, find(sources_run, IDENTITY, f"{SQ_JOB}-workload"))
    assert len(scaler.pop("AcrPull")) == 1
    assert scaler == {STORAGE_QUEUE_DATA_READER.display_name: {QUEUE_ID}}
    assert workload == {
        STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR.display_name: {QUEUE_ID},
        STORAGE_QUEUE_DATA_MESSAGE_SENDER.display_name: {POISON_ID},
    }


def test_event_hub_grants_are_at_the_hub_and_the_checkpoint_container_only(sources_run) -> None:
    scaler = grants_of(sources_run, find(sources_run, IDENTITY, f"{EH_JOB}-scaler"))
    workload = grants_of(sources_run, find(sources_run, IDENTITY, f"{EH_JOB}-workload"))
    assert len(scaler.pop("AcrPull")) == 1
    assert scaler == {
        EVENT_HUBS_DATA_RECEIVER.display_name: {HUB_ID},
        STORAGE_BLOB_DATA_READER.display_name: {CONTAINER_ID},
    }
    assert workload == {
        EVENT_HUBS_DATA_RECEIVER.display_name: {HUB_ID},
        STORAGE_BLOB_DATA_CONTRIBUTOR.display_name: {CONTAINER_ID},
    }


@pytest.mark.parametrize("mode", [NEW_STACK, DEPLOYED])
def test_no_data_plane_grant_is_on_an_account_namespace_group_or_subscription(run_stack, sources_config, mode) -> None:
    run = run_stack(sources_config, mode=mode)
    entities = {
        "Microsoft.Storage/storageAccounts/queueServices/queues",
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        "Microsoft.EventHub/namespaces/eventhubs",
        "Microsoft.ServiceBus/namespaces/queues",
    }
    granting_data = {*DATA_PLANE_ROLES_BY_GUID, SERVICE_BUS_DATA_OWNER.guid}
    data_grants = [
        grant
        for grant in run.by_type(ROLE_ASSIGNMENT)
        if grant.inputs["roleDefinitionId"].rsplit("/", 1)[-1] in granting_data
    ]
    # The Service Bus job's Data Owner and Data Receiver, and the two new sources' 3 and 4.
    assert len(data_grants) == 2 + 3 + 4
    for grant in data_grants:
        scope = ArmId.parse(grant.inputs["scope"])  # known in a first preview too: composed from config
        assert any(scope.is_type(entity) for entity in entities), grant.inputs["scope"]


@pytest.mark.parametrize("job", [SQ_JOB, EH_JOB])
def test_the_job_waits_for_every_grant_of_its_identities(sources_run, job) -> None:
    identities = {find(sources_run, IDENTITY, f"{job}-{role}").urn for role in ("scaler", "workload")}
    grants = [
        grant.urn
        for grant in sources_run.by_type(ROLE_ASSIGNMENT)
        if set(grant.property_dependencies.get("principalId", [])) & identities
    ]
    assert len(grants) == (2 + 2 if job == SQ_JOB else 3 + 2)  # AcrPull and the source's grants
    assert set(grants) <= set(find(sources_run, JOB, job).dependencies)


def test_storage_queues_are_created_in_the_referenced_account_and_kept_when_the_job_leaves(sources_run) -> None:
    queues = {queue.inputs["queueName"]: queue for queue in sources_run.by_type(STORAGE_QUEUE)}
    assert set(queues) == {"invoices", "invoices-poison"}
    for queue in queues.values():
        assert queue.inputs["accountName"] == "stinvoices" and queue.inputs["resourceGroupName"] == "rg-data"
        assert queue.retain_on_delete is True and queue.protect is True  # the seed stack protects
    # Named after the account and the queue, not the job: renaming the job keeps them.
    assert queues["invoices"].name == "storage-queue-stinvoices-invoices"


def test_delete_queue_with_job_lets_storage_queues_go_with_their_job(run_stack, sources_config) -> None:
    sources_config[EVENT_JOBS][SQ_JOB]["deleteQueueWithJob"] = True
    assert {queue.retain_on_delete for queue in run_stack(sources_config).by_type(STORAGE_QUEUE)} == {False}


def test_the_checkpoint_container_is_private_kept_and_the_consumer_group_created(run_stack, sources_config) -> None:
    run = run_stack(sources_config)
    container = find(run, CONTAINER)
    assert container.inputs["containerName"] == "telemetry-checkpoints"
    assert container.inputs["accountName"] == "stcheckpoints" and container.inputs["publicAccess"] == "None"
    assert container.retain_on_delete is True and container.protect is True
    group = find(run, CONSUMER_GROUP)
    assert group.inputs == {
        "consumerGroupName": "job-telemetry",
        "eventHubName": "telemetry",
        "namespaceName": "evh-telemetry",
        "resourceGroupName": "rg-events",
    }
    sources_config[EVENT_JOBS][EH_JOB]["deleteCheckpointsWithJob"] = True
    assert find(run_stack(sources_config), CONTAINER).retain_on_delete is False


def test_the_code_is_told_where_its_source_is_and_never_a_secret(sources_run) -> None:
    def env(job: str) -> dict[str, Any]:
        (container,) = find(sources_run, JOB, job).inputs["template"]["containers"]
        return {entry["name"]: entry.get("value") for entry in container["env"]}

    storage = env(SQ_JOB)
    assert {key: storage[key] for key in storage if key != "AZURE_CLIENT_ID"} == {
        "STORAGE_QUEUE_ACCOUNT_URL": "https://stinvoices.queue.core.windows.net",
        "STORAGE_QUEUE_NAME": "invoices",
        "STORAGE_QUEUE_POISON_NAME": "invoices-poison",
        "STORAGE_QUEUE_MAX_DEQUEUE_COUNT": "5",
    }
    hub = env(EH_JOB)
    assert {key: hub[key] for key in hub if key != "AZURE_CLIENT_ID"} == {
        "EVENTHUB_FULLY_QUALIFIED_NAMESPACE": "evh-telemetry.servicebus.windows.net",
        "EVENTHUB_NAME": "telemetry",
        "EVENTHUB_CONSUMER_GROUP": "job-telemetry",
        "CHECKPOINT_BLOB_ACCOUNT_URL": "https://stcheckpoints.blob.core.windows.net",
        "CHECKPOINT_BLOB_CONTAINER": "telemetry-checkpoints",
    }
    for job in (SQ_JOB, EH_JOB):
        assert not find(sources_run, JOB, job).inputs["configuration"].get("secrets")


def test_outside_the_public_cloud_the_scaler_is_told_its_cloud(run_stack, sources_config) -> None:
    china = copy.deepcopy(sources_config)
    china["azure-native:environment"] = "china"
    china["aca-jobs:platform"]["registry"]["server"] = "acrsharedprod.azurecr.cn"
    for kind in ("aca-jobs:manualJobs", EVENT_JOBS):
        for job in china[kind].values():
            job["image"] = job["image"].replace(".azurecr.io", ".azurecr.cn")
    run = run_stack(china)
    for job in (SQ_JOB, EH_JOB, "job-orders-queue"):
        assert scale_rule(run, job)["metadata"]["cloud"] == "AzureChinaCloud"
    assert "cloud" not in scale_rule(run_stack(sources_config), SQ_JOB)["metadata"]


# --- config rules: each exits 2 naming the key (StackConfigError is the program's exit-2 path) ---------------


def test_a_job_with_two_sources_is_refused_naming_them(sources_config) -> None:
    sources_config[EVENT_JOBS][SQ_JOB]["eventHub"] = event_hub_job()["eventHub"]
    assert_rule_broken(sources_config, f"{EVENT_JOBS}.{SQ_JOB}.eventHub", "has 2 sources (`storageQueue`, `eventHub`)")


def test_a_job_with_no_source_is_refused_naming_the_blocks(sources_config) -> None:
    del sources_config[EVENT_JOBS][SQ_JOB]["storageQueue"]
    assert_rule_broken(sources_config, f"{EVENT_JOBS}.{SQ_JOB}", "one of `queue`, `storageQueue`, `eventHub`")


@pytest.mark.parametrize(
    ("job", "mutate", "key", "words"),
    [
        (
            SQ_JOB,
            lambda job: job["storageQueue"].update(accountId=NAMESPACE),
            "storageQueue.accountId",
            "is a Microsoft.EventHub/namespaces, not a storage account",
        ),
        (
            EH_JOB,
            lambda job: job["eventHub"]["checkpoint"].update(accountId=f"{ACCOUNT}/queueServices/default"),
            "eventHub.checkpoint.accountId",
            "not a storage account",
        ),
        (EH_JOB, lambda job: job["eventHub"].update(name="Telemetry"), "eventHub.name", "has upper case"),
        (
            EH_JOB,
            lambda job: job["eventHub"].update(namespaceId=NAMESPACE.replace("evh-telemetry", "EVH-Telemetry")),
            "eventHub.namespaceId",
            "has upper case",
        ),
        (EH_JOB, lambda job: job["eventHub"].pop("checkpoint"), "eventHub.checkpoint", "is required"),
        (SQ_JOB, lambda job: job["storageQueue"].pop("queue"), "storageQueue.queue", "is required"),
        (SQ_JOB, lambda job: job["storageQueue"].update(queue="Invoices"), "storageQueue.queue", "queue name"),
        (EH_JOB, lambda job: job["eventHub"].update(consumerGroup="$Default"), "eventHub.consumerGroup", "$Default"),
        (
            EH_JOB,
            lambda job: job["eventHub"]["checkpoint"].update(container="a--b"),
            "eventHub.checkpoint.container",
            "blob container name",
        ),
        (SQ_JOB, lambda job: job.update(lockDuration="PT1M"), "lockDuration", "a key of event jobs with `queue`"),
        (SQ_JOB, lambda job: job.update(env={"STORAGE_QUEUE_NAME": "x"}), "env.STORAGE_QUEUE_NAME", "set by"),
        (
            EH_JOB,
            lambda job: job.update(azureAccess=[{"role": "Azure Event Hubs Data Receiver", "scope": HUB_ID}]),
            "azureAccess.0",
            "repeats a grant the event job already makes",
        ),
    ],
)
def test_a_broken_source_block_names_its_key(sources_config, job, mutate, key, words) -> None:
    mutate(sources_config[EVENT_JOBS][job])
    assert_rule_broken(sources_config, f"{EVENT_JOBS}.{job}.{key}", words)


def test_two_jobs_on_one_queue_or_one_consumer_group_are_refused(sources_config) -> None:
    sources_config[EVENT_JOBS]["job-invoices-2"] = storage_queue_job()
    # The same account, written in another case: ARM ids compare case-insensitively.
    sources_config[EVENT_JOBS]["job-invoices-2"]["storageQueue"]["accountId"] = ACCOUNT.replace("rg-data", "RG-DATA")
    second_hub = event_hub_job()
    second_hub["eventHub"]["checkpoint"]["container"] = "other-checkpoints"
    sources_config[EVENT_JOBS]["job-telemetry-2"] = second_hub
    message = config_error(sources_config)
    assert f"{EVENT_JOBS}.job-invoices-2.storageQueue.queue: queue `invoices` of account `stinvoices`" in message
    assert f"{EVENT_JOBS}.job-telemetry-2.eventHub.consumerGroup: consumer group `job-telemetry`" in message


def test_the_program_exits_2_and_registers_nothing_for_a_broken_source(tmp_path, preview_main, sources_config) -> None:
    sources_config[EVENT_JOBS][EH_JOB]["eventHub"]["name"] = "Telemetry"
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": sources_config}))
    assert preview_main(["--stack", "dev", "--config-file", str(path)]) == 2


def test_an_entity_is_created_only_in_the_stacks_own_subscription_when_the_file_names_it(sources_config) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    sources_config["azure-native:subscriptionId"] = other
    real = "22222222-2222-2222-2222-222222222222"
    for job in (SQ_JOB, EH_JOB):
        block = sources_config[EVENT_JOBS][job]
        text = yaml.safe_dump(block).replace(SUB, real)
        sources_config[EVENT_JOBS][job] = yaml.safe_load(text)
    message = config_error(sources_config)
    for key in ("storageQueue.accountId", "eventHub.namespaceId", "eventHub.checkpoint.accountId"):
        job = SQ_JOB if key.startswith("storageQueue") else EH_JOB
        assert f"{EVENT_JOBS}.{job}.{key}: `/subscriptions/{real}/" in message
    assert f"but the stack deploys to `{other}`" in message


def test_placeholder_ids_of_source_blocks_are_named_in_the_warning(sources_config) -> None:
    from components.stack_config import load_stack_config

    placeholders = load_stack_config(sources_config, stack_file="Pulumi.test.yaml").placeholder_ids()
    assert f"{EVENT_JOBS}.{SQ_JOB}.storageQueue.accountId" in placeholders
    assert f"{EVENT_JOBS}.{EH_JOB}.eventHub.checkpoint.accountId" in placeholders


# --- alerts (when the stack alerts), from what Azure Monitor offers for each source ----------------------------

METRIC_ALERT = "azure-native:monitor:MetricAlert"


@pytest.fixture(scope="module")
def alerting_run() -> ProgramRun:
    config = with_new_sources(copy.deepcopy(EVENT_SEED_CONFIG))
    config["aca-jobs:platform"]["alerts"] = {"emails": ["oncall@example.com"]}
    return run_program(config, "test", stack_file="Pulumi.test.yaml")


def test_event_hub_alert_is_incoming_without_outgoing_on_its_hub_only(alerting_run) -> None:
    rule = find(alerting_run, METRIC_ALERT, f"{EH_JOB}-incoming-unread").inputs
    assert rule["scopes"] == [NAMESPACE]
    criteria = rule["criteria"]
    assert criteria["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
    hub_only = [{"name": "EntityName", "operator": "Include", "values": ["telemetry"]}]
    assert [
        (c["metricNamespace"], c["metricName"], c["operator"], c["threshold"], c["timeAggregation"], c["dimensions"])
        for c in criteria["allOf"]
    ] == [
        ("Microsoft.EventHub/namespaces", "IncomingMessages", "GreaterThan", 0, "Total", hub_only),
        ("Microsoft.EventHub/namespaces", "OutgoingMessages", "LessThanOrEqual", 0, "Total", hub_only),
    ]
    # The stuck-backlog window (default 30 minutes), evaluated every 5 minutes.
    assert (rule["windowSize"], rule["evaluationFrequency"]) == ("PT30M", "PT5M")
    assert find(alerting_run, JOB, EH_JOB) and alerting_run.outputs["jobs"][EH_JOB]["incomingUnreadAlertId"]


def test_storage_queue_alert_is_the_accounts_hourly_message_count(alerting_run) -> None:
    rule = find(alerting_run, METRIC_ALERT, f"{SQ_JOB}-account-backlog").inputs
    # No per-queue metric exists: the queue service of the account is the narrowest scope Azure Monitor offers.
    assert rule["scopes"] == [f"{ACCOUNT}/queueServices/default"]
    (criterion,) = rule["criteria"]["allOf"]
    assert (
        criterion["metricNamespace"],
        criterion["metricName"],
        criterion["operator"],
        criterion["threshold"],
        criterion["timeAggregation"],
    ) == ("Microsoft.Storage/storageAccounts/queueServices", "QueueMessageCount", "GreaterThan", 100, "Average")
    assert "dimensions" not in criterion or not criterion["dimensions"]
    assert (rule["windowSize"], rule["evaluationFrequency"]) == ("PT6H", "PT1H")  # a PT1H metric
    assert "Account-wide" in rule["description"]


def test_without_stack_alerts_the_sources_make_no_alert_rule(sources_run) -> None:
    assert not sources_run.by_type(METRIC_ALERT)
