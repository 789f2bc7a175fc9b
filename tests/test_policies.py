"""The policy pack, driven over its real gRPC analyzer protocol: a pack process started as the CLI starts it,
configured, then asked to analyze resources and the stack. Each policy passes a compliant case and flags a
violating one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from conftest import EVENT_SEED_CONFIG, FULL_CONFIG, INVOICES_ACCOUNT_ID, PROJECT_DIR, SOURCES_CONFIG, find
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2

from components import config as program_config
from components import job_template
from components.event_sources import event_hub, storage_queue
from components.job_kinds import EVENT_SOURCES
from policy import aca_jobs_policies as policies
from policy.aca_facts import roles, scalers
from tools.offline import MODES, UNKNOWN, ProgramRun, Registration, run_program
from tools.policy_runner import (
    LEVEL_NAMES,
    PolicyConfigError,
    PolicyPackProcess,
    _analyze_request,
    configure,
    read_policy_config,
    reconcile_config,
    review,
    stack_resources,
)

JOB = "azure-native:app:Job"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
DIGEST = "@sha256:" + "a" * 64


@pytest.fixture(scope="module")
def compliant() -> ProgramRun:
    return run_program(copy.deepcopy(EVENT_SEED_CONFIG), "test", stack_file="Pulumi.test.yaml")


def analyze(
    pack: PolicyPackProcess,
    resource: Registration,
    props: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    protect: bool | None = None,
) -> dict[str, list[str]]:
    """policy name -> messages, for one resource analyzed over gRPC."""
    configure(pack.connect(), config or {})
    resource = replace(
        resource,
        wire_inputs=resource.wire_inputs if props is None else props,
        protect=resource.protect if protect is None else protect,
    )
    response = pack.connect().Analyze(_analyze_request(resource))
    found: dict[str, list[str]] = {}
    for diagnostic in response.diagnostics:
        found.setdefault(diagnostic.policyName, []).append(diagnostic.message)
    return found


def job_props(run: ProgramRun, name: str = "job-orders-queue") -> dict[str, Any]:
    return copy.deepcopy(find(run, JOB, name).wire_inputs)


@pytest.fixture(scope="module", params=MODES)
def full(request: pytest.FixtureRequest) -> ProgramRun:
    """Every job kind and feature (alerts, Key Vault secrets, azureAccess), in each preview mode."""
    return run_program(copy.deepcopy(FULL_CONFIG), "test", stack_file="Pulumi.test.yaml", mode=request.param)


Edit = Callable[[dict[str, Any]], Any]


def analyze_stack(
    pack: PolicyPackProcess,
    run: ProgramRun,
    edits: dict[tuple[str, str], Edit] | None = None,
    without_dependencies: tuple[str, str, str] | None = None,
    with_dependency: tuple[tuple[str, str, str], tuple[str, str]] | None = None,
) -> dict[str, list[str]]:
    """policy name -> messages, for AnalyzeStack over what the engine sends for `run` (every resource's outputs and
    the graph), with `edits` applied to the outputs of (type, name) resources, one property dependency
    (type, name, property) removed and one added ((type, name, property) on (type, name)): the unknowns and
    relations a stack policy must decide."""
    configure(pack.connect(), {})
    resources = stack_resources(run)
    if with_dependency is not None:
        (type_, name, prop), target = with_dependency
        [dependency] = [r.urn for r in resources if (r.type, r.name) == target]
        [dependent] = [r for r in resources if (r.type, r.name) == (type_, name)]
        dependent.propertyDependencies[prop].urns.append(dependency)
    for resource in resources:
        edit = (edits or {}).get((resource.type, resource.name))
        if edit is not None:
            props = json_format.MessageToDict(resource.properties)
            edit(props)
            resource.properties.Clear()
            resource.properties.update(props)
        if without_dependencies is not None and without_dependencies[:2] == (resource.type, resource.name):
            del resource.propertyDependencies[without_dependencies[2]]
    response = pack.connect().AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    found: dict[str, list[str]] = {}
    for diagnostic in response.diagnostics:
        found.setdefault(diagnostic.policyName, []).append(diagnostic.message)
    assert not any("can't run policy" in m for messages in found.values() for m in messages), found
    return found


def test_every_resource_of_a_compliant_stack_passes(pack, compliant) -> None:
    # The event seed does not alert (no `alerts`): every other policy, at its own level, has nothing to report.
    violations = review(pack, compliant, {"job-failure-alerted": "disabled"})
    assert violations == []


# --- job identity -------------------------------------------------------------------------------------------


def test_job_without_user_assigned_identity_is_flagged(pack, compliant) -> None:
    props = job_props(compliant)
    del props["identity"]
    assert (
        "has no user-assigned identity"
        in analyze(pack, find(compliant, JOB, "job-orders-queue"), props)["job-user-assigned-identity"][0]
    )


def test_registry_with_password_is_flagged(pack, compliant) -> None:
    props = job_props(compliant)
    props["configuration"]["registries"] = [{"server": "acr.azurecr.io", "username": "u", "passwordSecretRef": "p"}]
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props)
    assert "username/password" in found["job-user-assigned-identity"][0]


# --- images -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "config", "flagged"),
    [
        ("acr.azurecr.io/jobs/x:latest", {}, "`latest`"),
        ("acr.azurecr.io/jobs/x", {}, "untagged"),
        ("acr.azurecr.io/jobs/x:v1", {"job-image-pinned": {"requireDigest": True}}, "without a digest"),
        ("acr.azurecr.io/jobs/x:v1", {}, None),
        ("acr.azurecr.io/jobs/x:v1" + DIGEST, {"job-image-pinned": {"requireDigest": True}}, None),
        ("acr.azurecr.io/jobs/x" + DIGEST, {"job-image-pinned": {"requireDigest": True}}, None),
    ],
)
def test_image_pinning(pack, compliant, image: str, config: dict, flagged: str | None) -> None:
    props = job_props(compliant)
    props["template"]["containers"][0]["image"] = image
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props, config).get("job-image-pinned", [])
    assert (flagged in found[0]) if flagged else found == []


@pytest.mark.parametrize(
    ("image", "registries", "flagged"),
    [
        ("acrsharedprod.azurecr.io/jobs/x:v1", None, None),
        ("ACRSharedProd.azurecr.io/jobs/x:v1", None, None),  # host names compare case-insensitively
        ("docker.io/library/busybox:1.36", None, "from `docker.io`, which is not a registry the job pulls from"),
        ("busybox:1.36", None, "from Docker Hub (no registry host)"),
        ("acrsharedprod.azurecr.io:443/jobs/x:v1", None, "from `acrsharedprod.azurecr.io:443`, which is not"),
        ("acrsharedprod.azurecr.io.evil.example/jobs/x:v1", None, "which is not a registry the job pulls from"),
        (UNKNOWN, None, "runs an image that is not known during preview"),
        # A registry the job pulls from with a password is not a pull through an identity.
        (
            "other.azurecr.io/jobs/x:v1",
            [{"server": "other.azurecr.io", "username": "u", "passwordSecretRef": "p"}],
            "from `other.azurecr.io`, which is not a registry the job pulls from through an identity",
        ),
        (
            "other.azurecr.io/jobs/x:v1",
            [{"server": UNKNOWN, "identity": "/id"}],
            "a registry server the job pulls from is not known during preview",
        ),
        ("other.azurecr.io/jobs/x:v1", UNKNOWN, "a registry server the job pulls from is not known during preview"),
    ],
)
def test_images_come_only_from_a_registry_pulled_through_an_identity(
    pack, compliant, image: str, registries: Any, flagged: str | None
) -> None:
    props = job_props(compliant, "job-orders-backfill")
    props["template"]["containers"][0]["image"] = image
    if registries is not None:
        props["configuration"]["registries"] = registries
    found = analyze(pack, find(compliant, JOB, "job-orders-backfill"), props).get("job-image-from-pull-registry", [])
    assert (
        (len(found) == 1 and flagged in found[0] and "job `job-orders-backfill`" in found[0])
        if flagged
        else (found == [])
    )


# --- secrets ------------------------------------------------------------------------------------------------


def test_plaintext_secret_value_is_flagged_and_key_vault_reference_passes(pack, compliant) -> None:
    resource = find(compliant, JOB, "job-orders-queue")
    props = job_props(compliant)
    props["configuration"]["secrets"] = [{"name": "api-key", "value": "s3cr3t"}]
    assert "holds its value in the job configuration" in analyze(pack, resource, props)["job-secrets-not-plaintext"][0]
    props["configuration"]["secrets"] = [
        {"name": "api-key", "keyVaultUrl": "https://kv.vault.azure.net/secrets/api-key", "identity": "/id"}
    ]
    assert "job-secrets-not-plaintext" not in analyze(pack, resource, props)


def test_credential_in_an_env_value_is_flagged(pack, compliant) -> None:
    props = job_props(compliant)
    props["template"]["containers"][0]["env"].append(
        {"name": "BUS", "value": "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=abc"}
    )
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props)
    assert "env `BUS` holds a credential" in found["job-secrets-not-plaintext"][0]


@pytest.mark.parametrize(
    ("variable", "flagged"),
    [
        ({"name": "DB_PASSWORD", "value": "hunter2"}, "env `DB_PASSWORD` is named as a secret"),
        ({"name": "client_secret", "value": "x"}, "env `client_secret` is named as a secret"),
        ({"name": "DB_PASSWD", "value": "x"}, "env `DB_PASSWD` is named as a secret"),
        ({"name": "GITHUB_TOKEN", "value": "x"}, "env `GITHUB_TOKEN` is named as a secret"),
        ({"name": "STORAGE_KEY", "value": "x"}, "env `STORAGE_KEY` is named as a secret"),
        ({"name": "MyApiKey", "value": "x"}, "env `MyApiKey` is named as a secret"),
        ({"name": "DB_CONNECTION_STRING", "value": "x"}, "env `DB_CONNECTION_STRING` is named as a secret"),
        ({"name": "CACHE_URL", "value": "redis://:p4ss@cache:6379/0"}, "env `CACHE_URL` holds a credential"),
        ({"name": "DB_URL", "value": "postgres://app:p4ss@db.example/orders"}, "env `DB_URL` holds a credential"),
        ({"name": "BLOB", "value": "https://a.blob.core.windows.net/c?sv=2022&sig=abc+/="}, "env `BLOB` holds a"),
        ({"name": "SAS", "value": "sig=abc+/="}, "env `SAS` holds a credential"),
        ({"name": UNKNOWN, "value": "x"}, "whose name is not known during preview"),
        # Not credentials: an identity's client id, an empty value, a reference, an output, URLs without a password.
        ({"name": "AZURE_CLIENT_ID", "value": "11111111-1111-1111-1111-111111111111"}, None),
        ({"name": "API_KEY", "value": ""}, None),
        ({"name": "API_KEY", "secretRef": "api-key"}, None),
        # A value not known during preview is computed from an output: a secret name says it is a secret anyway.
        ({"name": "API_TOKEN", "value": UNKNOWN}, "env `API_TOKEN` is named as a secret and holds a value computed"),
        ({"name": "ENDPOINT", "value": UNKNOWN}, None),
        ({"name": UNKNOWN, "value": UNKNOWN}, "has an env entry whose name and value are not known during preview"),
        (UNKNOWN, "has an env entry that is not known during preview"),
        ({"name": "KEYS", "value": "x"}, None),
        ({"name": "ENDPOINT", "value": "https://api.example:8443/v1?user=a@b"}, None),
        ({"name": "DESIGN", "value": "design=blue"}, None),
    ],
)
def test_credentials_in_env_values(pack, compliant, variable: dict, flagged: str | None) -> None:
    props = job_props(compliant)
    props["template"]["containers"][0]["env"].append(variable)
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props).get("job-secrets-not-plaintext", [])
    assert (
        (len(found) == 1 and flagged in found[0] and "job `job-orders-queue`" in found[0]) if flagged else (found == [])
    )


@pytest.mark.parametrize(
    ("change", "flagged"),
    [
        (
            {"command": ["consume", "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=k"]},
            "container `job-orders-queue` `command` item 1 holds a credential in plain text (a connection-string key "
            "(`SharedAccessKey`))",
        ),
        (
            {"args": ["--db", "Server=db;User Id=app;Password=hunter2"]},
            "`args` item 1 holds a credential in plain text (a connection-string key (`Password`))",
        ),
        (
            {"args": ["--cache", "rediss://:p4ss@cache:6380"]},
            "`args` item 1 holds a credential in plain text (a password",
        ),
        ({"args": ["--blob", "https://a.blob.core.windows.net/c?sig=abc"]}, "(a SAS signature (`sig=`))"),
        ({"args": ["--key", "-----BEGIN RSA PRIVATE KEY-----"]}, "(a private key)"),
        ({"command": UNKNOWN}, "container `job-orders-queue` `command` is not known during preview"),
        ({"args": ["--since", UNKNOWN]}, "`args` item 1 is not known during preview"),
        # The fix the message gives, and text that is no credential.
        ({"args": ["--password-env", "DB_PASSWORD"]}, None),
        ({"command": ["python", "-m", "orders.consume"], "args": ["--url", "https://api.example/v1?user=a@b"]}, None),
    ],
)
def test_credentials_in_command_and_args(pack, compliant, change: dict, flagged: str | None) -> None:
    props = job_props(compliant)
    props["template"]["containers"][0].update(change)
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props).get("job-secrets-not-plaintext", [])
    if flagged is None:
        assert found == []
        return
    assert len(found) == 1 and flagged in found[0] and "job `job-orders-queue`" in found[0]
    if "holds a credential" in flagged:
        # The fix: the value into Key Vault, read through `secretRef` in env, the variable passed to the program.
        assert "Fix: store it in the stack's Key Vault" in found[0] and "`{secretRef: <name>}`" in found[0]
        assert "pass the variable to the program" in found[0]


def test_every_container_is_checked_init_containers_included(pack, compliant) -> None:
    props = job_props(compliant)
    props["template"]["initContainers"] = [
        {
            "name": "migrate",
            "image": "acrsharedprod.azurecr.io/jobs/migrate:v1.0.0",
            "args": ["--db", "postgres://app:p4ss@db/orders"],
            "env": [{"name": "STORE", "value": "AccountKey=abc"}],
        }
    ]
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props)["job-secrets-not-plaintext"]
    assert len(found) == 2
    assert any(
        "container `migrate` `args` item 1 holds a credential in plain text (a password in a URL)" in m for m in found
    )
    assert any(
        "env `STORE` holds a credential in plain text (a connection-string key (`AccountKey`))" in m for m in found
    )


@pytest.fixture(scope="module")
def fallback() -> ProgramRun:
    config = copy.deepcopy(EVENT_SEED_CONFIG)
    config["aca-jobs:eventJobs"]["job-orders-queue"]["auth"] = "connectionString"
    return run_program(config, "test", stack_file="Pulumi.test.yaml")


def test_connection_string_fallback_is_visible_at_the_configured_level(pack, fallback) -> None:
    resource = find(fallback, JOB, "job-orders-queue")
    found = analyze(pack, resource)
    assert "scales from a Service Bus connection string" in found["job-connection-string-fallback"][0]
    assert "job-secrets-not-plaintext" not in found  # the fallback secret is reported by its own policy
    levels = {
        v.policy_name: v.enforcement_level
        for v in review(pack, fallback, read_policy_config(PROJECT_DIR / "policy" / "dev.json"))
    }
    assert levels["job-connection-string-fallback"] == "advisory"
    levels = {
        v.policy_name: v.enforcement_level
        for v in review(pack, fallback, read_policy_config(PROJECT_DIR / "policy" / "prod.json"))
    }
    assert levels["job-connection-string-fallback"] == "mandatory"


def test_env_reading_the_scalers_connection_string_is_flagged(pack, fallback) -> None:
    resource = find(fallback, JOB, "job-orders-queue")
    props = job_props(fallback)
    env = props["template"]["containers"][0]["env"]
    env.append({"name": "SERVICEBUS_CONNECTION_STRING", "secretRef": "servicebus-connection"})
    found = analyze(pack, resource, props)["job-secrets-not-plaintext"]
    assert found == [
        next(m for m in found if "env `SERVICEBUS_CONNECTION_STRING` reads secret `servicebus-connection`" in m)
    ]
    assert "job `job-orders-queue`" in found[0] and "Manage rights" in found[0]
    env[-1]["secretRef"] = "other-secret"
    assert "job-secrets-not-plaintext" not in analyze(pack, resource, props)
    env[-1]["secretRef"] = UNKNOWN
    assert "cannot be verified" in analyze(pack, resource, props)["job-secrets-not-plaintext"][0]


# --- scale rules --------------------------------------------------------------------------------------------


def test_scale_rule_with_host_name_namespace_is_flagged(pack, compliant) -> None:
    props = job_props(compliant)
    rule = props["configuration"]["eventTriggerConfig"]["scale"]["rules"][0]
    rule["metadata"]["namespace"] = "sb-aca-test.servicebus.windows.net"
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props)
    assert "use the bare name `sb-aca-test`" in found["scale-rule-identity"][0]


def test_scale_rule_without_identity_or_auth_is_flagged(pack, compliant) -> None:
    props = job_props(compliant)
    del props["configuration"]["eventTriggerConfig"]["scale"]["rules"][0]["identity"]
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props)
    assert "has no identity" in found["scale-rule-identity"][0]


# --- retries, timeouts, completion --------------------------------------------------------------------------


def test_retries_above_the_bound_need_the_idempotent_marker(pack, compliant) -> None:
    resource = find(compliant, JOB, "job-orders-queue")
    props = job_props(compliant)
    props["configuration"]["replicaRetryLimit"] = 3
    del props["tags"][policies.IDEMPOTENT_TAG]
    assert "retries a replica 3 times" in analyze(pack, resource, props)["job-retry-bounded"][0]
    props["tags"][policies.IDEMPOTENT_TAG] = "true"
    assert "job-retry-bounded" not in analyze(pack, resource, props)
    found = analyze(pack, resource, props, {"job-retry-bounded": {"maxRetryLimitIdempotent": 2}})
    assert "lower replicaRetryLimit to 2" in found["job-retry-bounded"][0]


def test_timeout_must_be_set_and_bounded(pack, compliant) -> None:
    resource = find(compliant, JOB, "job-orders-queue")
    props = job_props(compliant)
    assert "job-timeout-bounded" not in analyze(
        pack, resource, props, {"job-timeout-bounded": {"maxReplicaTimeout": 900}}
    )
    found = analyze(pack, resource, props, {"job-timeout-bounded": {"maxReplicaTimeout": 600}})
    assert "above this stack's bound of 600 s" in found["job-timeout-bounded"][0]
    del props["configuration"]["replicaTimeout"]
    assert "has no replicaTimeout" in analyze(pack, resource, props)["job-timeout-bounded"][0]


def test_n_of_m_needs_the_opt_in_marker(pack, compliant) -> None:
    resource = find(compliant, JOB, "job-orders-backfill")
    props = job_props(compliant, "job-orders-backfill")
    props["configuration"]["manualTriggerConfig"] = {"parallelism": 3.0, "replicaCompletionCount": 2.0}
    found = analyze(pack, resource, props)
    assert "succeeds after 2 of 3 replicas" in found["job-partial-completion-opt-in"][0]
    props["tags"][policies.PARTIAL_COMPLETION_TAG] = "true"
    assert "job-partial-completion-opt-in" not in analyze(pack, resource, props)


def test_n_of_m_reads_the_block_that_matches_the_trigger_type(pack, compliant) -> None:
    # An Event job: Azure acts on eventTriggerConfig; a compliant manualTriggerConfig next to it changes nothing.
    resource = find(compliant, JOB, "job-orders-queue")
    props = job_props(compliant)
    props["configuration"]["manualTriggerConfig"] = {"parallelism": 1.0, "replicaCompletionCount": 1.0}
    props["configuration"]["eventTriggerConfig"].update(parallelism=8.0, replicaCompletionCount=3.0)
    found = analyze(pack, resource, props)
    assert "job `job-orders-queue` succeeds after 3 of 8 replicas" in found["job-partial-completion-opt-in"][0]


# --- Service Bus namespace ----------------------------------------------------------------------------------


def test_namespace_tls_and_local_auth(pack, compliant) -> None:
    namespace = find(compliant, "azure-native:servicebus:Namespace")
    assert analyze(pack, namespace) == {}
    props = copy.deepcopy(namespace.wire_inputs) | {"minimumTlsVersion": "1.0", "disableLocalAuth": False}
    found = analyze(pack, namespace, props)
    assert "accepts TLS below 1.2" in found["servicebus-minimum-tls"][0]
    assert "allows SAS keys" in found["servicebus-local-auth-disabled"][0]


# --- least privilege (stack policy): see test_policy_review.py, on the outputs the engine sends -----------------


# --- no fail-open: a value not known during preview is "set, value not known", never "non-empty" or "valid" ---


def settings(props: dict[str, Any]) -> list[dict[str, Any]]:
    return props["configuration"]["identitySettings"]


def rules(props: dict[str, Any]) -> list[dict[str, Any]]:
    return props["configuration"]["eventTriggerConfig"]["scale"]["rules"]


def with_secret_ref(props: dict[str, Any]) -> None:
    props["template"]["containers"][0]["env"].append({"name": "API_KEY", "secretRef": "api-key"})


# (job, policy, change of the inputs Analyze gets, words): each read that passed, or reported the wrong reason, on
# an unknown before.
UNKNOWN_READS: list[tuple[str, str, Edit, str]] = [
    (
        "job-orders-queue",
        "job-user-assigned-identity",
        lambda p: p["identity"].update(type=UNKNOWN),
        "identity type or user-assigned identity list that is not known during preview",
    ),
    (
        "job-orders-queue",
        "job-user-assigned-identity",
        lambda p: p["identity"].update(userAssignedIdentities=UNKNOWN),
        "identity type or user-assigned identity list that is not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-user-assigned-identity",
        lambda p: p["configuration"].update(registries=UNKNOWN),
        "pulls from registries that are not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-user-assigned-identity",
        lambda p: p["configuration"].update(registries=[UNKNOWN]),
        "has a registry entry that is not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-user-assigned-identity",
        lambda p: p["configuration"].update(identitySettings=UNKNOWN),
        "the job's identitySettings are not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-user-assigned-identity",
        lambda p: settings(p)[0].update(identity=UNKNOWN),
        "the job's identitySettings are not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-user-assigned-identity",
        lambda p: settings(p)[0].update(lifecycle=UNKNOWN),
        "has a lifecycle that is not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-user-assigned-identity",
        lambda p: p["configuration"].update(secrets=UNKNOWN),
        "has secrets that are not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-secrets-not-plaintext",
        lambda p: p["configuration"].update(secrets=UNKNOWN),
        "has secrets that are not known during preview, so it cannot be verified that none holds its value",
    ),
    (
        "job-orders-backfill",
        "job-secrets-not-plaintext",
        lambda p: p["template"].update(containers=UNKNOWN),
        "has containers that are not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-secrets-not-plaintext",
        lambda p: p["template"].update(initContainers=UNKNOWN),
        "has initContainers that are not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-volumes-consistent",
        lambda p: p["template"].update(volumes=UNKNOWN),
        "has volumes that are not known during preview, so its mounts and secret files cannot be verified",
    ),
    (
        "job-orders-backfill",
        "job-volumes-consistent",
        lambda p: p["template"].update(volumes=[{"name": "certs", "storageType": "Secret", "secrets": UNKNOWN}]),
        "Secret volume `certs` lists files that are not known during preview",
    ),
    (
        "job-orders-queue",
        "job-secrets-not-plaintext",
        lambda p: p["template"]["containers"][0].update(env=UNKNOWN),
        "container `job-orders-queue` has env that is not known during preview",
    ),
    (
        "job-orders-queue",
        "job-secrets-not-plaintext",
        lambda p: (p["configuration"]["eventTriggerConfig"]["scale"].update(rules=UNKNOWN), with_secret_ref(p)),
        "env `API_KEY` reads a secret, and which secret it reads or which secret the Service Bus scale rule",
    ),
    (
        "job-orders-queue",
        "job-secrets-not-plaintext",
        lambda p: (rules(p)[0].update(type=UNKNOWN), with_secret_ref(p)),
        "env `API_KEY` reads a secret, and which secret it reads or which secret the Service Bus scale rule",
    ),
    (
        "job-orders-queue",
        "job-secrets-not-plaintext",
        lambda p: (rules(p)[0].update(auth=UNKNOWN), with_secret_ref(p)),
        "env `API_KEY` reads a secret, and which secret it reads or which secret the Service Bus scale rule",
    ),
    (
        "job-orders-queue",
        "job-secrets-not-plaintext",
        lambda p: (
            rules(p)[0].update(auth=[{"triggerParameter": "connection", "secretRef": UNKNOWN}]),
            with_secret_ref(p),
        ),
        "env `API_KEY` reads a secret, and which secret it reads or which secret the Service Bus scale rule",
    ),
    (
        "job-orders-queue",
        "job-connection-string-fallback",
        lambda p: p["configuration"]["eventTriggerConfig"]["scale"].update(rules=UNKNOWN),
        "has scale rules whose type or authentication is not known during preview",
    ),
    (
        "job-orders-queue",
        "scale-rule-identity",
        lambda p: p["configuration"]["eventTriggerConfig"]["scale"].update(rules=UNKNOWN),
        "has scale rules that are not known during preview",
    ),
    (
        "job-orders-queue",
        "scale-rule-identity",
        lambda p: rules(p)[0].update(type=UNKNOWN),
        "scale rule `queue-backlog` has a type that is not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-partial-completion-opt-in",
        lambda p: p["configuration"].update(triggerType=UNKNOWN),
        "has a trigger type or trigger block that is not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-partial-completion-opt-in",
        lambda p: p["configuration"].update(manualTriggerConfig=UNKNOWN),
        "has a trigger type or trigger block that is not known during preview",
    ),
    (
        "job-orders-backfill",
        "job-schedule-valid",
        lambda p: p["configuration"].update(triggerType=UNKNOWN),
        "has a trigger type that is not known during preview",
    ),
]


@pytest.mark.parametrize(
    ("job", "policy", "change", "words"),
    UNKNOWN_READS,
    ids=[f"{case[1]}-{index}" for index, case in enumerate(UNKNOWN_READS)],
)
def test_an_unknown_read_is_reported_never_passed(pack, compliant, job: str, policy: str, change, words: str) -> None:
    props = job_props(compliant, job)
    change(props)
    found = analyze(pack, find(compliant, JOB, job), props).get(policy, [])
    assert any(words in message and f"job `{job}`" in message for message in found), found


# --- the schedule, read by the program's own cron parser --------------------------------------------------


@pytest.fixture(scope="module")
def nightly_run() -> ProgramRun:
    return run_program(copy.deepcopy(FULL_CONFIG), "test", stack_file="Pulumi.test.yaml")


@pytest.mark.parametrize(
    ("expression", "flagged"),
    [
        ("0 2 * * *", None),
        ("*/15 1-5,22 1,15 JAN-MAR mon-fri", None),
        ("0 25 * * *", "hour field `25` is out of range 0-23. Fix: use a hour from 0 to 23."),
        ("*/0 * * * *", "minute field `*/0` has a step of 0"),
        ("0 0 * * 7", "day of week field `7` is out of range 0-6"),
        ("0 0 30 2 *", "so the schedule never runs"),
        ("0 0 * * \u017fun", "holds the non-ASCII character `\u017f` (U+017F)"),
        ("0 " + "9" * 5000 + " * * *", "(5000 characters)` is out of range 0-23"),
        ("@daily", "`@daily` is a descriptor"),
        ("0 0 2 * * *", "6 fields given"),
        (UNKNOWN, "has a cron expression that is not known during preview"),
    ],
    ids=[
        "daily",
        "ranges-steps-names-lists",
        "hour-25",
        "step-0",
        "day-of-week-7",
        "never-runs",
        "long-s-sun",
        "thousands-of-digits",
        "descriptor",
        "seconds-field",
        "not-known",
    ],
)
def test_schedule_is_checked_as_the_config_checks_it(pack, nightly_run, expression: str, flagged: str | None) -> None:
    resource = find(nightly_run, JOB, "job-orders-nightly")
    props = job_props(nightly_run, "job-orders-nightly")
    props["configuration"]["scheduleTriggerConfig"]["cronExpression"] = expression
    found = analyze(pack, resource, props).get("job-schedule-valid", [])
    assert (len(found) == 1 and flagged in found[0] and len(found[0]) < 1000) if flagged else found == []


# --- stack policies: unknowns and relations, on what AnalyzeStack gets in each preview mode ------------------

RULE = ("azure-native:monitor:ScheduledQueryRule", "job-orders-nightly-failed-executions")
ACTION_GROUP = ("azure-native:monitor:ActionGroup", "action-group")
NIGHTLY_JOB = (JOB, "job-orders-nightly")
QUEUE_JOB = (JOB, "job-orders-queue")
ALERTED = "job `job-orders-nightly` has no alert on failed executions that is known to notify someone"


def test_the_full_stack_is_clean_on_the_stack_policies(pack, full) -> None:
    assert analyze_stack(pack, full) == {}


@pytest.mark.parametrize(
    ("edits", "words"),
    [
        ({RULE: lambda p: p.update(enabled=UNKNOWN)}, "is not known during preview to be enabled"),
        ({RULE: lambda p: p["criteria"].update(allOf=UNKNOWN)}, "has a query that is not known during preview"),
        ({RULE: lambda p: p["actions"].update(actionGroups=[])}, "has no action group"),
        ({ACTION_GROUP: lambda p: p.update(emailReceivers=[])}, "has no receiver known during preview"),
        ({ACTION_GROUP: lambda p: p.update(emailReceivers=UNKNOWN)}, "has no receiver known during preview"),
        ({ACTION_GROUP: lambda p: p.update(enabled=UNKNOWN)}, "is enabled is not known during preview"),
    ],
)
def test_an_alert_rule_must_be_proven_to_notify(pack, full, edits, words: str) -> None:
    # The rule is the nightly job's; the action group is every job's.
    found = analyze_stack(pack, full, edits)["job-failure-alerted"]
    assert len(found) == (3 if ACTION_GROUP in edits else 1) and all(words in message for message in found)
    assert any(ALERTED in message for message in found)


def test_unknown_action_groups_are_proven_from_the_graph_or_reported(pack, full) -> None:
    # azure-native's preview of a create may leave the list unknown: the rule's `actions` depending on the action
    # group the stack creates proves where it sends; without that dependency nothing does.
    unknown = {RULE: lambda p: p["actions"].update(actionGroups=UNKNOWN)}
    assert "job-failure-alerted" not in analyze_stack(pack, full, unknown)
    found = analyze_stack(pack, full, unknown, without_dependencies=(*RULE, "actions"))["job-failure-alerted"]
    assert len(found) == 1 and "has action groups that are not known during preview and that do not come" in found[0]
    items = {RULE: lambda p: p["actions"].update(actionGroups=[UNKNOWN])}
    assert "job-failure-alerted" in analyze_stack(pack, full, items, without_dependencies=(*RULE, "actions"))


def test_a_data_owner_identity_assigned_through_an_unknown_id_is_decided_from_the_graph(pack, full) -> None:
    def unknown_ids(props: dict[str, Any]) -> None:
        props["identity"]["userAssignedIdentities"] = [UNKNOWN]
        props["configuration"]["identitySettings"] = []

    found = analyze_stack(pack, full, {QUEUE_JOB: unknown_ids})["least-privilege-role-assignments"]
    assert any("job `job-orders-queue` assigns it without identitySettings" in message for message in found), found


@pytest.mark.parametrize(
    ("edits", "policy", "words"),
    [
        (
            {NIGHTLY_JOB: lambda p: p["configuration"].update(registries=UNKNOWN)},
            "job-registry-pull-granted",
            "job `job-orders-nightly` pulls from registries that are not known during preview",
        ),
        (
            {NIGHTLY_JOB: lambda p: p["configuration"]["registries"][0].update(identity=UNKNOWN)},
            "job-registry-pull-granted",
            "its server or pull identity is not known during preview",
        ),
        (
            {(ROLE_ASSIGNMENT, "job-orders-nightly-pull-acr-pull"): lambda p: p.update(scope=UNKNOWN)},
            "job-registry-pull-granted",
            "holds AcrPull on no registry (the role, scope or principal of `job-orders-nightly-pull-acr-pull` is not "
            "known during preview)",
        ),
        (
            {
                (ROLE_ASSIGNMENT, "job-orders-nightly-workload-blob-contributor-exports"): lambda p: p.update(
                    scope=UNKNOWN
                )
            },
            "least-privilege-role-assignments",
            "has a role or scope that is not known during preview",
        ),
    ],
)
def test_stack_policies_report_what_they_cannot_see(pack, full, edits, policy: str, words: str) -> None:
    found = analyze_stack(pack, full, edits)[policy]
    assert any(words in message for message in found), found


def computed_env(props: dict[str, Any]) -> None:
    props["template"]["containers"][0]["env"].append({"name": "EXPORTS_CONNECTION", "value": UNKNOWN})


WORKSPACE = ("azure-native:operationalinsights:Workspace", "workspace")


def test_an_env_value_computed_from_an_identity_passes(pack, full) -> None:
    # The nightly job's AZURE_CLIENT_ID is its workload identity's client id: unknown in a first preview, and fine.
    assert "job-computed-env-from-identities" not in analyze_stack(pack, full, {NIGHTLY_JOB: computed_env})


def test_an_env_value_computed_from_another_resource_is_reported(pack, full) -> None:
    """A value read from another resource (here: the template depending on the workspace) could be its key in plain
    text; a first preview cannot show the text, so where it comes from decides."""
    found = analyze_stack(
        pack, full, {NIGHTLY_JOB: computed_env}, with_dependency=((*NIGHTLY_JOB, "template"), WORKSPACE)
    )["job-computed-env-from-identities"]
    assert len(found) == 1 and "`EXPORTS_CONNECTION`" in found[0] and "Workspace `workspace`" in found[0], found


def test_registry_server_compares_case_insensitively_with_the_login_server(pack, full) -> None:
    upper = {NIGHTLY_JOB: lambda p: p["configuration"]["registries"][0].update(server="ACRSharedProd.azurecr.io")}
    assert "job-registry-pull-granted" not in analyze_stack(pack, full, upper)


@pytest.fixture(scope="module")
def sources() -> ProgramRun:
    """A Service Bus, a Storage Queue and an Event Hubs job, as a first preview sees them (the planted violations of
    each source in both modes: test_policy_review.py)."""
    return run_program(copy.deepcopy(SOURCES_CONFIG), "test", stack_file="Pulumi.test.yaml")


INVOICES_JOB = (JOB, "job-invoices")
SCALER_READER = (ROLE_ASSIGNMENT, "job-invoices-scaler-queue-reader")
CODE_PROCESSOR = (ROLE_ASSIGNMENT, "job-invoices-workload-queue-processor")


def on_the_account(props: dict[str, Any]) -> None:
    props["scope"] = INVOICES_ACCOUNT_ID


def test_the_codes_source_role_on_the_account_is_left_to_the_provider_rule(pack, sources) -> None:
    # The choice written in the pack: `azureAccess` may give the code a data role on a whole storage account, and the
    # pack cannot tell such a grant from the source's own, so only an identity the platform uses is held to the entity.
    assert "least-privilege-role-assignments" not in analyze_stack(pack, sources, {CODE_PROCESSOR: on_the_account})


def test_a_wide_source_grant_to_an_identity_not_known_to_be_the_codes_is_reported(pack, sources) -> None:
    def unknown_identities(props: dict[str, Any]) -> None:
        props["configuration"]["identitySettings"] = UNKNOWN
        props["configuration"]["eventTriggerConfig"]["scale"]["rules"][0]["identity"] = UNKNOWN

    found = analyze_stack(pack, sources, {SCALER_READER: on_the_account, INVOICES_JOB: unknown_identities})
    [message] = found["least-privilege-role-assignments"]
    assert message.endswith(
        "role assignment `job-invoices-scaler-queue-reader` grants Storage Queue Data Reader on "
        f"`{INVOICES_ACCOUNT_ID}`, a `Microsoft.Storage/storageAccounts`, to identity `job-invoices-scaler`, and the "
        "identitySettings and scale rules of job `job-invoices` are not known during preview, so it cannot be verified "
        "that only the job's code uses it: a scaler reads one entity, and this scope reaches every one below it. Fix: "
        "scope it to the one queue (`<account id>/queueServices/default/queues/<queue>`)."
    )


def test_a_wide_source_grant_to_a_principal_outside_the_stack_is_reported(pack, sources) -> None:
    def outside(props: dict[str, Any]) -> None:
        on_the_account(props)
        props["principalId"] = "55555555-5555-5555-5555-555555555555"

    found = analyze_stack(pack, sources, {SCALER_READER: outside}, without_dependencies=(*SCALER_READER, "principalId"))
    assert len(found["least-privilege-role-assignments"]) == 1
    assert (
        "to a principal that is not a user-assigned identity of this stack"
        in found["least-privilege-role-assignments"][0]
    )


def test_a_source_role_on_the_queue_service_is_not_the_queue(pack, sources) -> None:
    # The scope's parsed type decides, not a prefix of the queue's id: the queue service holds every queue.
    on_the_service = {SCALER_READER: lambda p: p.update(scope=f"{INVOICES_ACCOUNT_ID}/queueServices/default")}
    [message] = analyze_stack(pack, sources, on_the_service)["least-privilege-role-assignments"]
    assert "a `Microsoft.Storage/storageAccounts/queueServices`, to identity `job-invoices-scaler`" in message


CONNECTION = {"triggerParameter": "connection", "secretRef": "source-connection"}
# (job, change of its inputs, words; None: passes): each source's scale rule, read with its own facts.
SOURCE_RULES: list[tuple[str, Edit, str | None]] = [
    (
        "job-telemetry",
        lambda p: rules(p)[0].update(auth=[CONNECTION]),
        "(`azure-eventhub`) authenticates with a secret (`auth`); Event Hubs scale rules always use the job's scaler "
        "identity",
    ),
    ("job-invoices", lambda p: rules(p)[0].update(auth=[]), None),
    ("job-invoices", lambda p: rules(p)[0].update(auth=UNKNOWN), "has authentication (`auth`) that is not known"),
    ("job-invoices", lambda p: rules(p)[0].update(auth=[UNKNOWN]), "has authentication (`auth`) that is not known"),
    ("job-invoices", lambda p: rules(p)[0].pop("identity"), "(`azure-queue`) has no identity"),
    ("job-invoices", lambda p: rules(p)[0].update(identity="system"), "with the job's system-assigned identity"),
    (
        "job-invoices",
        lambda p: rules(p)[0]["metadata"].update(accountName="stinvoicesdev.queue.core.windows.net"),
        "has accountName `stinvoicesdev.queue.core.windows.net`; with an identity KEDA appends the cloud's suffix "
        "itself and would read a host that does not exist. Fix: use the bare name `stinvoicesdev`",
    ),
    (
        "job-telemetry",
        lambda p: rules(p)[0]["metadata"].update(eventHubNamespace="evh-telemetry-dev.servicebus.windows.net"),
        "Fix: use the bare name `evh-telemetry-dev`",
    ),
    (
        "job-invoices",
        lambda p: rules(p)[0].update(type="azure-blob"),
        "scale rule `storage-queue-backlog` has type `azure-blob`, which is not an event source this review knows "
        "(`azure-servicebus`, `azure-queue`, `azure-eventhub`)",
    ),
]


@pytest.mark.parametrize(("job", "change", "words"), SOURCE_RULES, ids=[str(i) for i in range(len(SOURCE_RULES))])
def test_each_sources_scale_rule(pack, sources, job: str, change: Edit, words: str | None) -> None:
    props = job_props(sources, job)
    change(props)
    found = analyze(pack, find(sources, JOB, job), props).get("scale-rule-identity", [])
    assert (len(found) == 1 and words in found[0] and f"job `{job}`" in found[0]) if words else found == [], found


# --- protection, names, tags --------------------------------------------------------------------------------


def test_stateful_resources_must_be_protected_where_required(pack, compliant) -> None:
    queue = find(compliant, "azure-native:servicebus:Queue")
    required = {"stateful-resources-protected": {"requireProtection": True}}
    assert analyze(pack, queue, protect=True, config=required) == {}
    assert "is not protected" in analyze(pack, queue, protect=False, config=required)["stateful-resources-protected"][0]
    assert analyze(pack, queue, protect=False) == {}  # not required by default


def test_storage_queues_and_checkpoint_containers_are_stateful(pack, sources) -> None:
    required = {"stateful-resources-protected": {"requireProtection": True}}
    created = [r for r in sources.resources if r.type in ("azure-native:storage:Queue", BLOB_CONTAINER)]
    assert len(created) == 3  # the queue, its poison queue, the checkpoint container
    for resource in created:
        assert resource.protect  # the program protects them where the stack says `protect: true`
        assert analyze(pack, resource, config=required) == {}
        found = analyze(pack, resource, protect=False, config=required)["stateful-resources-protected"]
        assert len(found) == 1 and f"`{resource.name}` holds data but is not protected" in found[0]


def test_job_name_format(pack, compliant) -> None:
    props = job_props(compliant) | {"jobName": "Orders_Job"}
    found = analyze(pack, find(compliant, JOB, "job-orders-queue"), props)
    assert "breaks the Container Apps rules" in found["job-name-format"][0]


def test_required_tags(pack, compliant) -> None:
    resource = find(compliant, "azure-native:resources:ResourceGroup")
    assert analyze(pack, resource) == {}
    found = analyze(pack, resource, config={"required-tags": {"requiredTags": ["owner", "cost-center"]}})
    assert "lacks required tags ['cost-center']" in found["required-tags"][0]


@pytest.mark.parametrize(
    ("tags", "flagged"),
    [
        ({"owner": "x" * 256}, None),
        ({"owner": "x" * 257}, "tag `owner` has a value of 257 characters; Azure accepts at most 256"),
        ({"owner": "a", "n" * 513: "v"}, "has a tag name of 513 characters"),
        ({"owner": "a", "n" * 512: "v"}, None),
        ({"owner": UNKNOWN}, "tag `owner` has a value that is not known during preview"),
        (UNKNOWN, "has tags that are not known during preview"),
    ],
)
def test_tag_lengths(pack, compliant, tags: Any, flagged: str | None) -> None:
    for resource in (find(compliant, "azure-native:resources:ResourceGroup"), find(compliant, JOB, "job-orders-queue")):
        props = copy.deepcopy(resource.wire_inputs) | {"tags": tags}
        found = analyze(pack, resource, props).get("tags-valid", [])
        assert (len(found) == 1 and flagged in found[0]) if flagged else found == []


# --- configuration ------------------------------------------------------------------------------------------


def test_config_levels_follow_the_cli_order(pack) -> None:
    info = pack.connect().GetAnalyzerInfo(empty_pb2.Empty())
    config = reconcile_config(
        info, {"all": "advisory", "job-retry-bounded": {"enforcementLevel": "mandatory", "maxRetryLimit": 2}}
    )
    assert LEVEL_NAMES[config["job-image-pinned"][0]] == "advisory"
    assert LEVEL_NAMES[config["job-retry-bounded"][0]] == "mandatory"
    assert config["job-retry-bounded"][1] == {"maxRetryLimit": 2, "maxRetryLimitIdempotent": 10}
    defaults = reconcile_config(info, {})
    assert LEVEL_NAMES[defaults["job-connection-string-fallback"][0]] == "advisory"
    assert defaults["job-image-pinned"][1] == {"requireDigest": False}


@pytest.mark.parametrize(
    ("user", "words"),
    [
        ({"no-such-policy": "mandatory"}, "not a policy of this pack"),
        ({"job-image-pinned": "strict"}, "enforcement level must be one of"),
        ({"job-image-pinned": {"requireDigests": True}}, "not a setting of this policy"),
        ({"job-retry-bounded": {"maxRetryLimit": "2"}}, "must be of type integer"),
    ],
)
def test_bad_policy_config_is_refused(pack, user: dict, words: str) -> None:
    with pytest.raises(PolicyConfigError, match=words):
        reconcile_config(pack.connect().GetAnalyzerInfo(empty_pb2.Empty()), user)


def test_every_policy_has_a_description_and_committed_configs_are_valid(pack) -> None:
    info = pack.connect().GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "aca-jobs-policies"
    assert {p.name for p in info.policies} == {p.name for p in policies.POLICIES}
    assert all(p.description for p in info.policies)
    for stack in ("dev", "staging", "prod"):
        reconcile_config(info, read_policy_config(PROJECT_DIR / "policy" / f"{stack}.json"))


def test_the_pack_knows_every_event_source_the_program_has() -> None:
    # Each source's scale rule is read with its facts, and what it creates that holds data is a stateful type.
    for kind in EVENT_SOURCES:
        assert kind.source.SCALE_RULE_TYPE in scalers.SCALERS
        assert set(kind.source.HOLDS) <= set(policies.STATEFUL_TYPES)
    # The one entity the pack holds a scaler's grants to is the type the program scopes them to.
    assert (roles.QUEUE_SCOPE_TYPE, roles.CONTAINER_SCOPE_TYPE, roles.HUB_SCOPE_TYPE) == (
        storage_queue.QUEUE_TYPE,
        event_hub.CONTAINER_TYPE,
        event_hub.HUB_TYPE,
    )


def test_shared_constants_match_the_program() -> None:
    assert policies.IDEMPOTENT_TAG == job_template.IDEMPOTENT_TAG
    assert policies.PARTIAL_COMPLETION_TAG == job_template.PARTIAL_COMPLETION_TAG
    assert (policies.TAG_NAME_MAX, policies.TAG_VALUE_MAX) == (
        program_config.TAG_NAME_MAX,
        program_config.TAG_VALUE_MAX,
    )
