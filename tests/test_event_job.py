"""ServiceBusEventJob: queue, the two identities and their least-privilege grants, the KEDA scale rule,
and the connection-string fallback, as registered."""

from __future__ import annotations

from conftest import REGISTRY_ID, arm_id, assert_inputs, config_error, find

from components.naming import ACR_PULL, SERVICE_BUS_DATA_OWNER, SERVICE_BUS_DATA_RECEIVER
from tools.offline import DEPLOYED, NEW_STACK, UNKNOWN, ProgramRun, Registration

JOB = "azure-native:app:Job"
QUEUE = "azure-native:servicebus:Queue"
NAMESPACE = "azure-native:servicebus:Namespace"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
SAS_RULE = "azure-native:servicebus:QueueAuthorizationRule"
NAME = "job-orders-queue"


def grants(run: ProgramRun) -> list[Registration]:
    return run.by_type(ROLE_ASSIGNMENT)


def role_guid(grant: Registration) -> str:
    return grant.inputs["roleDefinitionId"].rsplit("/", 1)[-1]


def scale_rule(run: ProgramRun) -> dict:
    return find(run, JOB, NAME).inputs["configuration"]["eventTriggerConfig"]["scale"]["rules"][0]


def test_queue_has_a_stable_name_dead_lettering_and_delivery_settings(event_run: ProgramRun) -> None:
    queue = find(event_run, QUEUE)
    assert_inputs(
        queue,
        {
            "queueName": "orders",
            "namespaceName": "sb-aca-test",
            "resourceGroupName": "rg-aca-test",
            "deadLetteringOnMessageExpiration": True,
            "maxDeliveryCount": 10,
            "lockDuration": "PT1M",
        },
    )
    assert queue.name == "queue-orders"  # URN follows the queue, not the job
    assert queue.protect is True  # the seed stack protects its stateful resources
    assert find(event_run, NAMESPACE).urn in queue.property_dependencies["namespaceName"]


def test_queue_outlives_its_job_unless_the_stack_file_says_it_may_be_deleted(run_stack, event_config) -> None:
    # Removing the job from config then only drops the queue from the state: its messages stay in Azure.
    assert find(run_stack(event_config), QUEUE).retain_on_delete is True
    event_config["aca-jobs:eventJobs"][NAME]["deleteQueueWithJob"] = True
    queue = find(run_stack(event_config), QUEUE)
    assert queue.retain_on_delete is False
    assert queue.protect is True  # the opt-in is about leaving the config, not about protection


def test_delete_queue_with_job_takes_true_or_false_only(event_config) -> None:
    event_config["aca-jobs:eventJobs"][NAME]["deleteQueueWithJob"] = "yes"
    message = config_error(event_config)
    assert f"aca-jobs:eventJobs.{NAME}.deleteQueueWithJob" in message and "Traceback" not in message


def test_queue_ttl_and_lock_come_from_config(run_stack, event_config) -> None:
    event_config["aca-jobs:eventJobs"][NAME].update(messageTimeToLive="P14D", lockDuration="PT5M", maxDeliveryCount=3)
    assert_inputs(
        find(run_stack(event_config), QUEUE),
        {"defaultMessageTimeToLive": "P14D", "lockDuration": "PT5M", "maxDeliveryCount": 3},
    )


def test_namespace_is_entra_only_tls12_and_protected(event_run: ProgramRun) -> None:
    namespace = find(event_run, NAMESPACE)
    assert_inputs(
        namespace,
        {
            "namespaceName": "sb-aca-test",
            "sku": {"name": "Standard", "tier": "Standard"},
            "minimumTlsVersion": "1.2",
            "disableLocalAuth": True,
        },
    )
    assert namespace.protect is True
    assert namespace.parent == find(event_run, "aca-jobs:index:JobsPlatform").urn


def test_scale_rule_uses_bare_namespace_string_counts_and_the_scaler_identity(event_run: ProgramRun) -> None:
    # The seed wrote the namespace as sb-aca-test.servicebus.windows.net.
    scaler = find(event_run, IDENTITY, f"{NAME}-scaler")
    assert scale_rule(event_run) == {
        "name": "queue-backlog",
        "type": "azure-servicebus",
        "metadata": {
            "queueName": "orders",
            "namespace": "sb-aca-test",
            "messageCount": "10",
            "activationMessageCount": "0",
        },
        "identity": arm_id(scaler),
    }


def test_event_trigger_carries_scale_and_replica_settings(event_run: ProgramRun) -> None:
    assert_inputs(
        find(event_run, JOB, NAME),
        {
            "jobName": NAME,
            "configuration": {
                "triggerType": "Event",
                "eventTriggerConfig": {
                    "parallelism": 1,
                    "replicaCompletionCount": 1,
                    "scale": {"minExecutions": 0, "maxExecutions": 10, "pollingInterval": 30},
                },
                "replicaRetryLimit": 2,
                "replicaTimeout": 900,
            },
        },
    )
    assert "manualTriggerConfig" not in find(event_run, JOB, NAME).inputs["configuration"]


def test_identity_lifecycles_keep_the_scaler_out_of_containers(event_run: ProgramRun) -> None:
    scaler = find(event_run, IDENTITY, f"{NAME}-scaler")
    workload = find(event_run, IDENTITY, f"{NAME}-workload")
    configuration = find(event_run, JOB, NAME).inputs["configuration"]
    assert configuration["identitySettings"] == [
        {"identity": arm_id(scaler), "lifecycle": "None"},
        {"identity": arm_id(workload), "lifecycle": "Main"},
    ]
    assert configuration["registries"] == [{"server": "acrsharedprod.azurecr.io", "identity": arm_id(scaler)}]
    assert scaler.inputs["resourceName"] == f"id-{NAME}-scaler"
    assert workload.inputs["resourceName"] == f"id-{NAME}-workload"


def grantee(run: ProgramRun, grant: Registration) -> Registration:
    """The identity a grant goes to: the engine's property dependency of `principalId` (its value is unknown
    until Azure creates the identity)."""
    (urn,) = grant.property_dependencies["principalId"]
    return next(r for r in run.resources if r.urn == urn)


def test_each_role_goes_to_one_identity_at_the_narrowest_scope(event_run: ProgramRun) -> None:
    queue_id = arm_id(find(event_run, QUEUE))
    event_grants = {
        (role_guid(g), g.inputs["scope"], grantee(event_run, g).name)
        for g in grants(event_run)
        if grantee(event_run, g).name.startswith(NAME)
    }
    assert event_grants == {
        (ACR_PULL.guid, REGISTRY_ID, f"{NAME}-scaler"),
        (SERVICE_BUS_DATA_OWNER.guid, queue_id, f"{NAME}-scaler"),
        (SERVICE_BUS_DATA_RECEIVER.guid, queue_id, f"{NAME}-workload"),
    }
    assert all(g.inputs["principalType"] == "ServicePrincipal" for g in grants(event_run))


def test_grants_name_the_principal_azure_gives_the_identity(deployed_event_run: ProgramRun) -> None:
    outputs = deployed_event_run.outputs["jobs"][NAME]
    by_identity = {grantee(deployed_event_run, g).name: g.inputs["principalId"] for g in grants(deployed_event_run)}
    assert by_identity[f"{NAME}-scaler"] == outputs["identityPrincipalId"]
    assert by_identity[f"{NAME}-workload"] == outputs["workloadIdentityPrincipalId"]


def test_nothing_is_granted_at_namespace_scope_or_wider(event_run: ProgramRun) -> None:
    namespace_id = arm_id(find(event_run, NAMESPACE))
    for grant in grants(event_run):
        scope = grant.inputs["scope"]
        assert scope.startswith(namespace_id + "/queues/") or scope == REGISTRY_ID, scope
        assert role_guid(grant) in {
            ACR_PULL.guid,
            SERVICE_BUS_DATA_OWNER.guid,
            SERVICE_BUS_DATA_RECEIVER.guid,
        }


def test_data_owner_only_for_identities_no_container_can_use(event_run: ProgramRun) -> None:
    lifecycles = {
        s["identity"]: s["lifecycle"]
        for job in event_run.by_type(JOB)
        for s in job.inputs["configuration"]["identitySettings"]
    }
    owners = [g for g in grants(event_run) if role_guid(g) == SERVICE_BUS_DATA_OWNER.guid]
    assert len(owners) == 1
    assert lifecycles[arm_id(grantee(event_run, owners[0]))] == "None"


def test_workload_gets_its_client_id_namespace_host_and_queue(event_run: ProgramRun) -> None:
    container = find(event_run, JOB, NAME).inputs["template"]["containers"][0]
    outputs = event_run.outputs["jobs"][NAME]
    assert container["env"] == [
        {"name": "AZURE_CLIENT_ID", "value": outputs["workloadIdentityClientId"]},
        {"name": "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE", "value": "sb-aca-test.servicebus.windows.net"},
        {"name": "SERVICEBUS_QUEUE_NAME", "value": "orders"},
    ]
    workload = find(event_run, IDENTITY, f"{NAME}-workload")
    assert workload.urn in find(event_run, JOB, NAME).property_dependencies["template"]


def test_job_waits_for_all_its_role_assignments(event_run: ProgramRun) -> None:
    job = find(event_run, JOB, NAME)
    own = [g for g in grants(event_run) if g.name.startswith(f"{NAME}-")]
    assert len(own) == 3
    assert all(g.urn in job.dependencies for g in own)


def test_children_are_parented_to_the_component(event_run: ProgramRun) -> None:
    component = find(event_run, "aca-jobs:index:ServiceBusEventJob", NAME)
    assert component.parent == event_run.stack_urn
    assert find(event_run, QUEUE).parent == component.urn
    assert find(event_run, JOB, NAME).parent == component.urn
    for purpose in ("scaler", "workload"):
        identity_component = find(event_run, "aca-jobs:index:JobIdentity", f"{NAME}-{purpose}")
        assert identity_component.parent == component.urn
        assert find(event_run, IDENTITY, f"{NAME}-{purpose}").parent == identity_component.urn


def test_outputs_include_queue_and_a_test_message_command(event_run: ProgramRun) -> None:
    outputs = event_run.outputs["jobs"][NAME]
    assert outputs["queueId"] == arm_id(find(event_run, QUEUE))
    assert outputs["queueName"] == "orders"
    assert outputs["namespaceHostName"] == "sb-aca-test.servicebus.windows.net"
    assert "https://sb-aca-test.servicebus.windows.net/orders/messages" in outputs["sendTestMessageCommand"]


def test_no_sas_rule_or_secret_with_managed_identity(event_run: ProgramRun) -> None:
    assert event_run.by_type(SAS_RULE) == []
    assert "secrets" not in find(event_run, JOB, NAME).inputs["configuration"]
    assert "auth" not in scale_rule(event_run)


# --- the connection-string fallback ---------------------------------------------------------------------


def fallback_run(run_stack, event_config, mode: str = NEW_STACK) -> ProgramRun:
    event_config["aca-jobs:eventJobs"][NAME]["auth"] = "connectionString"
    return run_stack(event_config, mode=mode)


def test_fallback_uses_a_queue_sas_rule_with_scaler_rights(run_stack, event_config) -> None:
    run = fallback_run(run_stack, event_config)
    assert_inputs(
        find(run, SAS_RULE),
        {"queueName": "orders", "namespaceName": "sb-aca-test", "rights": ["Listen", "Send", "Manage"]},
    )
    assert find(run, QUEUE).urn in find(run, SAS_RULE).property_dependencies["queueName"]


def test_fallback_keeps_the_connection_string_secret_and_off_the_identity(run_stack, event_config) -> None:
    run = fallback_run(run_stack, event_config, mode=DEPLOYED)  # the SAS rule exists, so its keys can be read
    job = find(run, JOB, NAME)
    assert job.inputs["configuration"]["secrets"] == [{"name": "servicebus-connection", "value": "[secret]"}]
    assert "configuration.secrets[0].value" in job.secret_paths
    assert "EntityPath=orders" in job.plain_inputs["configuration"]["secrets"][0]["value"]
    # Before the rule exists its keys cannot be read: unknown, and still sent as a secret.
    first_preview = find(fallback_run(run_stack, event_config), JOB, NAME)
    assert first_preview.inputs["configuration"]["secrets"] == [{"name": "servicebus-connection", "value": "[secret]"}]
    assert first_preview.plain_inputs["configuration"]["secrets"][0]["value"] == UNKNOWN
    rule = scale_rule(run)
    assert rule["auth"] == [{"secretRef": "servicebus-connection", "triggerParameter": "connection"}]
    assert "identity" not in rule


def test_fallback_drops_data_owner_and_enables_local_auth_with_a_warning(run_stack, event_config) -> None:
    run = fallback_run(run_stack, event_config)
    assert [g for g in grants(run) if role_guid(g) == SERVICE_BUS_DATA_OWNER.guid] == []
    assert find(run, NAMESPACE).inputs["disableLocalAuth"] is False
    assert any(NAME in warning and "connectionString" in warning for warning in run.warnings)
    # The code still runs as the workload identity with Data Receiver only.
    assert [role_guid(g) for g in grants(run) if g.name == f"{NAME}-workload-sb-data-receiver"] == [
        SERVICE_BUS_DATA_RECEIVER.guid
    ]
