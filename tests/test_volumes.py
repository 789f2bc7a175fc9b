"""The whole job surface (issue 19, deliverables 1-3): volumes (EmptyDir, Secret, AzureFile), Azure Files storages
registered on the environment with their account key read from Key Vault, init containers held to the main
container's rules, and liveness/startup probes. Wire values are asserted as the engine receives them (2025-02-02-
preview `CommonDefinitions.json` `JobTemplate`, `Volume`, `VolumeMount`, `InitContainer`, `ContainerAppProbe`)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from conftest import FULL_CONFIG, KEY_VAULT_ID, assert_inputs, assert_rule_broken, find

from components.config import PLATFORM_KEY
from components.scale import stack_footprint
from components.stack_config import load_stack_config
from tools.offline import DEPLOYED, MODES, NEW_STACK, PLACEHOLDER_SUBSCRIPTION, ProgramRun, run_program
from tools.provider_model import UNKNOWN

JOB = "azure-native:app:Job"
STORAGE = "azure-native:app:ManagedEnvironmentsStorage"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
NIGHTLY = "job-orders-nightly"
VAULT_URL = "https://kv-aca-test.vault.azure.net/secrets"
ACCOUNT_ID = (
    "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-data/providers/"
    "Microsoft.Storage/storageAccounts/streports"
)
STORAGE_IDENTITY_ID = (
    f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/resourceGroups/rg-aca-test/providers/Microsoft.ManagedIdentity/"
    "userAssignedIdentities/id-aca-env-test-storage"
)
INIT_IMAGE = "acrsharedprod.azurecr.io/jobs/orders-migrate:v1.0.0"


def volume_config() -> dict[str, Any]:
    """The full config, with a storage on the environment and a nightly job that uses every piece: an EmptyDir
    shared with an init container, a certificate file from Key Vault, the share, and a liveness probe."""
    config = copy.deepcopy(FULL_CONFIG)
    config[PLATFORM_KEY]["environment"]["storages"] = {
        "reports": {
            "accountId": ACCOUNT_ID,
            "share": "reports",
            "accessMode": "ReadWrite",
            "accountKeySecretUrl": f"{VAULT_URL}/streports-key",
        }
    }
    job = config["aca-jobs:scheduledJobs"][NIGHTLY]
    job["secrets"]["tls-cert"] = {"keyVaultSecretUrl": f"{VAULT_URL}/orders-tls-cert"}
    job["volumes"] = {
        "scratch": {"type": "EmptyDir"},
        "certs": {"type": "Secret", "items": [{"secretRef": "tls-cert", "path": "tls.crt"}]},
        "reports": {"type": "AzureFile", "storage": "reports", "mountOptions": "dir_mode=0750,file_mode=0640"},
    }
    job["volumeMounts"] = [
        {"volume": "scratch", "mountPath": "/scratch"},
        {"volume": "certs", "mountPath": "/etc/orders/certs"},
        {"volume": "reports", "mountPath": "/reports", "subPath": "daily"},
    ]
    job["initContainers"] = [
        {
            "name": "migrate",
            "image": INIT_IMAGE,
            "command": ["python", "-m", "orders.migrate"],
            "env": {"DB_PASSWORD": {"secretRef": "db-password"}},
            "volumeMounts": [{"volume": "scratch", "mountPath": "/scratch"}],
        }
    ]
    job["probes"] = [
        {"type": "Liveness", "httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 30, "failureThreshold": 3},
        {"type": "Startup", "tcpSocket": {"port": 8080}, "initialDelaySeconds": 5},
    ]
    return config


@functools.cache
def _run(mode: str) -> ProgramRun:
    return run_program(volume_config(), "test", stack_file="Pulumi.test.yaml", mode=mode)


@pytest.fixture(params=MODES)
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return _run(request.param)


def nightly(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:scheduledJobs"][NIGHTLY]


def storage_of(config: dict[str, Any]) -> dict[str, Any]:
    return config[PLATFORM_KEY]["environment"]["storages"]["reports"]


# --- the job's template on the wire ---------------------------------------------------------------------------


def test_volumes_are_sent_as_the_api_expects(run: ProgramRun) -> None:
    template = find(run, JOB, NIGHTLY).inputs["template"]
    assert template["volumes"] == [
        {"name": "certs", "storageType": "Secret", "secrets": [{"secretRef": "tls-cert", "path": "tls.crt"}]},
        {
            "name": "reports",
            "storageType": "AzureFile",
            "storageName": "reports",
            "mountOptions": "dir_mode=0750,file_mode=0640",
        },
        {"name": "scratch", "storageType": "EmptyDir"},
    ]


def test_the_main_container_mounts_its_volumes_and_carries_its_probes(run: ProgramRun) -> None:
    (container,) = find(run, JOB, NIGHTLY).inputs["template"]["containers"]
    assert container["volumeMounts"] == [
        {"volumeName": "scratch", "mountPath": "/scratch"},
        {"volumeName": "certs", "mountPath": "/etc/orders/certs"},
        {"volumeName": "reports", "mountPath": "/reports", "subPath": "daily"},
    ]
    assert container["probes"] == [
        {"type": "Liveness", "httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 30, "failureThreshold": 3},
        {"type": "Startup", "tcpSocket": {"port": 8080}, "initialDelaySeconds": 5},
    ]


def test_init_containers_are_sent_in_order_with_their_own_size_env_and_mounts(run: ProgramRun) -> None:
    (init,) = find(run, JOB, NIGHTLY).inputs["template"]["initContainers"]
    assert init == {
        "name": "migrate",
        "image": INIT_IMAGE,
        "command": ["python", "-m", "orders.migrate"],
        "resources": {"cpu": 0.25, "memory": "0.5Gi"},
        "env": [{"name": "DB_PASSWORD", "secretRef": "db-password"}],
        "volumeMounts": [{"volumeName": "scratch", "mountPath": "/scratch"}],
    }
    # The workload identity's client id is the main container's (its identity's lifecycle is Main): an init
    # container gets only the env its config names.
    assert "probes" not in init


def test_a_job_without_volumes_init_containers_or_probes_sends_none() -> None:
    template = find(_run(NEW_STACK), JOB, "job-orders-backfill").inputs["template"]
    assert set(template) == {"containers"}
    assert not {"volumeMounts", "probes"} & set(template["containers"][0])


# --- the storage on the environment: its key from Key Vault, never a value -------------------------------------


def test_the_storage_is_registered_with_its_key_read_from_key_vault_through_the_storage_identity(
    run: ProgramRun,
) -> None:
    storage = find(run, STORAGE, "storage-reports")
    assert_inputs(
        storage,
        {
            "environmentName": "aca-env-test",
            "resourceGroupName": "rg-aca-test",
            "storageName": "reports",
            "properties": {
                "azureFile": {
                    "accountName": "streports",
                    "shareName": "reports",
                    "accessMode": "ReadWrite",
                    "accountKeyVaultProperties": {
                        "identity": STORAGE_IDENTITY_ID,
                        "keyVaultUrl": f"{VAULT_URL}/streports-key",
                    },
                }
            },
        },
    )
    assert "accountKey" not in storage.inputs["properties"]["azureFile"]


def _values_at(value: Any, key: str) -> Iterator[Any]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == key:
                yield item
            yield from _values_at(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _values_at(item, key)


def test_no_storage_account_key_is_a_value_anywhere_in_the_preview(run: ProgramRun) -> None:
    document = run.as_json()
    # In a first preview the provider answers every response property it does not copy from the inputs as unknown
    # (the key included); nothing anywhere holds a key.
    assert all(value == UNKNOWN for value in _values_at(document, "accountKey"))
    assert "accountKeyVaultProperties" in str(document)


def test_the_environment_reads_keys_as_the_storage_identity_which_may_read_only_the_key_secret(
    run: ProgramRun,
) -> None:
    assert_inputs(
        find(run, ENVIRONMENT),
        {"identity": {"type": "UserAssigned", "userAssignedIdentities": [STORAGE_IDENTITY_ID]}},
    )
    assert_inputs(find(run, IDENTITY, "environment-storage"), {"resourceName": "id-aca-env-test-storage"})
    grant = find(run, ROLE_ASSIGNMENT, "environment-storage-kv-secrets-user-streports-key")
    assert grant.inputs["scope"] == f"{KEY_VAULT_ID}/secrets/streports-key"
    assert grant.inputs["roleDefinitionId"].endswith("/4633458b-17de-408a-b874-0445c86b69e6")
    assert grant.property_dependencies["principalId"] == [find(run, IDENTITY, "environment-storage").urn]


def test_the_registration_waits_for_the_grant_and_the_job_for_the_registration(run: ProgramRun) -> None:
    storage = find(run, STORAGE, "storage-reports")
    grant = find(run, ROLE_ASSIGNMENT, "environment-storage-kv-secrets-user-streports-key")
    assert grant.urn in storage.dependencies
    job = find(run, JOB, NIGHTLY)
    assert storage.urn in job.dependencies
    # Resource-level only: the template depends on identities alone (the pack trusts unknown env values so).
    assert storage.urn not in job.property_dependencies.get("template", [])
    assert storage.urn not in find(run, JOB, "job-orders-backfill").dependencies


def test_a_stack_without_storages_gives_its_environment_no_identity(seed_run: ProgramRun) -> None:
    assert "identity" not in find(seed_run, ENVIRONMENT).inputs
    assert not seed_run.by_type(STORAGE)


def test_the_platform_exports_its_storages_in_the_contract() -> None:
    config = volume_config()
    for key in ("aca-jobs:manualJobs", "aca-jobs:eventJobs", "aca-jobs:scheduledJobs"):
        del config[key]
    run = run_program(config, "platform", stack_file="Pulumi.platform.yaml", mode=DEPLOYED)
    assert run.outputs["platform"]["environment"]["storages"] == [{"name": "reports", "accessMode": "ReadWrite"}]


# --- config rules, each naming the key -----------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _do(change: Callable[[dict[str, Any]], Any]) -> Mutation:
    return lambda config: (change(config), None)[1]


REFUSED: list[tuple[str, Mutation, str, str]] = [
    (
        "mount-of-an-unknown-volume",
        _do(lambda c: nightly(c)["volumeMounts"].append({"volume": "archive", "mountPath": "/archive"})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumeMounts.3.volume",
        "mounts volume `archive`, which this job's `volumes` does not define",
    ),
    (
        "init-container-mount-of-an-unknown-volume",
        _do(lambda c: nightly(c)["initContainers"][0]["volumeMounts"].append({"volume": "cache", "mountPath": "/c"})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.volumeMounts.1.volume",
        "mounts volume `cache`",
    ),
    (
        "secret-volume-of-an-unknown-secret",
        _do(lambda c: nightly(c)["volumes"]["certs"]["items"].append({"secretRef": "tls-key", "path": "tls.key"})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumes.certs.items.1.secretRef",
        "volume `certs` writes secret `tls-key`, which this job's `secrets` does not define",
    ),
    (
        "secret-volume-without-items",
        _do(lambda c: nightly(c)["volumes"]["certs"].pop("items")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumes.certs.items",
        "without `items` Azure mounts every secret of the job",
    ),
    (
        "secret-volume-item-path-is-not-a-file-name",
        _do(lambda c: nightly(c)["volumes"]["certs"]["items"][0].update(path="../tls.crt")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumes.certs.items.0.path",
        "is not a file name",
    ),
    (
        "duplicate-mount-path",
        _do(lambda c: nightly(c)["volumeMounts"].append({"volume": "certs", "mountPath": "/scratch/"})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumeMounts.3.mountPath",
        "mountPath `/scratch/` is also item 0's",
    ),
    (
        "relative-mount-path",
        _do(lambda c: nightly(c)["volumeMounts"][0].update(mountPath="scratch")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumeMounts.0.mountPath",
        "is not an absolute path",
    ),
    (
        "sub-path-leaving-the-volume",
        _do(lambda c: nightly(c)["volumeMounts"][2].update(subPath="../other")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumeMounts.2.subPath",
        "is not a path inside the volume",
    ),
    (
        "nfs-volume",
        _do(lambda c: nightly(c)["volumes"].update(nfs={"type": "NfsAzureFile", "storage": "reports"})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumes.nfs.type",
        "`NfsAzureFile` volumes are not offered",
    ),
    (
        "azure-file-of-an-unregistered-storage",
        _do(lambda c: nightly(c)["volumes"]["reports"].update(storage="archive")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumes.reports.storage",
        "mounts storage `archive`, which the environment does not register (registered: `reports`)",
    ),
    (
        "credential-in-mount-options",
        _do(lambda c: nightly(c)["volumes"]["reports"].update(mountOptions="username=x,password=hunter2")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.volumes.reports.mountOptions",
        "in plain text",
    ),
    (
        "storage-account-key-in-config",
        _do(lambda c: storage_of(c).update(accountKey="bWFkZS11cC1rZXk=")),
        f"{PLATFORM_KEY}.environment.storages.reports.accountKey",
        "a storage account key is never read from config",
    ),
    (
        "storage-key-in-another-vault",
        _do(lambda c: storage_of(c).update(accountKeySecretUrl="https://kv-other.vault.azure.net/secrets/k")),
        f"{PLATFORM_KEY}.environment.storages.reports.accountKeySecretUrl",
        "is in vault `kv-other`, not the stack's vault `kv-aca-test`",
    ),
    (
        "storage-without-a-vault",
        _do(lambda c: c[PLATFORM_KEY].pop("keyVault") and [nightly(c).pop(k) for k in ("secrets", "env")]),
        f"{PLATFORM_KEY}.keyVault",
        "an environment storage reads its account key from the stack's Key Vault",
    ),
    (
        "storage-on-an-existing-environment",
        _do(
            lambda c: c[PLATFORM_KEY].update(
                environment={
                    "resourceId": f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/resourceGroups/rg-x/providers/"
                    "Microsoft.App/managedEnvironments/aca-env-x",
                    "workspaceResourceId": f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/resourceGroups/rg-x/providers/"
                    "Microsoft.OperationalInsights/workspaces/log-x",
                    "storages": storage_of(c) and {"reports": storage_of(c)},
                }
            )
        ),
        f"{PLATFORM_KEY}.environment.storages",
        "configures an environment the stack creates",
    ),
    (
        "init-container-from-another-registry",
        _do(lambda c: nightly(c)["initContainers"][0].update(image="docker.io/library/busybox:1.36")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.image",
        "jobs pull only from the reviewed registry",
    ),
    (
        "init-container-image-not-pinned",
        _do(lambda c: nightly(c)["initContainers"][0].update(image="acrsharedprod.azurecr.io/jobs/migrate:latest")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.image",
        "the `latest` tag moves",
    ),
    (
        "init-container-credential-in-args",
        _do(lambda c: nightly(c)["initContainers"][0].update(args=["--dsn", "postgres://app:hunter2@db/orders"])),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.args.1",
        "in plain text",
    ),
    (
        "init-container-secret-named-literal-env",
        _do(lambda c: nightly(c)["initContainers"][0]["env"].update(API_TOKEN="abc123")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.env.API_TOKEN",
        "is named as a secret but holds a literal value",
    ),
    (
        "init-container-env-of-an-unknown-secret",
        _do(lambda c: nightly(c)["initContainers"][0]["env"].update(API_KEY={"secretRef": "api-key"})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.env.API_KEY.secretRef",
        "reads secret `api-key`, which this job's `secrets` does not define",
    ),
    (
        "init-container-larger-than-the-main-container",
        _do(lambda c: nightly(c)["initContainers"][0].update(cpu=1.0, memory="2Gi")),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.cpu",
        "Azure refuses an init container larger than the main container",
    ),
    (
        "init-container-named-as-the-job",
        _do(lambda c: nightly(c)["initContainers"][0].update(name=NIGHTLY)),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.0.name",
        "has the job's name",
    ),
    (
        "init-container-twice",
        _do(lambda c: nightly(c)["initContainers"].append(copy.deepcopy(nightly(c)["initContainers"][0]))),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.initContainers.1.name",
        "init container `migrate` is listed twice",
    ),
    (
        "readiness-probe",
        _do(lambda c: nightly(c)["probes"].append({"type": "Readiness", "tcpSocket": {"port": 8080}})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.probes.2.type",
        "a job gets none (jobs have no ingress)",
    ),
    (
        "two-liveness-probes",
        _do(lambda c: nightly(c)["probes"].append({"type": "Liveness", "tcpSocket": {"port": 8080}})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.probes.2.type",
        "a container takes one probe of each type",
    ),
    (
        "probe-with-two-checks",
        _do(lambda c: nightly(c)["probes"][0].update(tcpSocket={"port": 8080})),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.probes.0.tcpSocket",
        "exactly one of `httpGet` and `tcpSocket`",
    ),
    (
        "probe-beyond-the-apis-limit",
        _do(lambda c: nightly(c)["probes"][0].update(failureThreshold=11)),
        f"aca-jobs:scheduledJobs.{NIGHTLY}.probes.0.failureThreshold",
        "at most 10",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "words"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED])
def test_bad_volumes_init_containers_and_probes_are_refused_naming_the_key(
    mutate: Mutation, key: str, words: str
) -> None:
    config = volume_config()
    mutate(config)
    assert_rule_broken(config, key, words)


def test_a_refused_volume_exits_2_before_anything_is_registered(preview_main, capsys, tmp_path) -> None:
    config = volume_config()
    nightly(config)["volumeMounts"].append({"volume": "archive", "mountPath": "/archive"})
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    assert preview_main(["--stack", "test", "--config-file", str(path), "--policy-config", "policy/dev.json"]) == 2
    out = capsys.readouterr()
    assert f"aca-jobs:scheduledJobs.{NIGHTLY}.volumeMounts.3.volume: mounts volume `archive`" in out.err + out.out
    assert "Traceback" not in out.err + out.out


def test_a_secret_only_a_volume_holds_is_not_reported_unused() -> None:
    config = volume_config()
    warnings = load_stack_config(config, stack_file="Pulumi.test.yaml").warnings()
    assert not [w for w in warnings if "which no env entry reads" in w]
    # Without the volume the same secret is unused, and said so.
    del nightly(config)["volumes"]["certs"]
    nightly(config)["volumeMounts"].pop(1)
    warnings = load_stack_config(config, stack_file="Pulumi.test.yaml").warnings()
    assert [w for w in warnings if "defines secret `tls-cert`, which no env entry reads" in w]


def test_a_volume_no_container_mounts_is_a_warning() -> None:
    config = volume_config()
    nightly(config)["volumeMounts"].pop(0)
    nightly(config)["initContainers"][0].pop("volumeMounts")
    warnings = load_stack_config(config, stack_file="Pulumi.test.yaml").warnings()
    assert [w for w in warnings if f"job `{NIGHTLY}` defines volume `scratch`, which no container mounts" in w]


def test_init_containers_add_nothing_to_the_cores_a_job_holds() -> None:
    """An init container runs and exits before the main container starts and may not be larger than it, so the
    replica's size (and the storm guard's count) is the main container's."""
    config = volume_config()
    nightly(config).update(cpu=1.0, memory="2Gi", parallelism=2, replicaCompletionCount=2)
    nightly(config)["initContainers"][0].update(cpu=1.0, memory="2Gi")
    job = load_stack_config(config, stack_file="Pulumi.test.yaml").scheduled_jobs[NIGHTLY]
    assert job.peak_cores()[0] == 2.0


def test_the_storage_identity_and_its_grants_are_counted_as_registered(run: ProgramRun) -> None:
    footprint = stack_footprint(load_stack_config(volume_config(), stack_file="Pulumi.test.yaml"))
    assert (footprint.identities, footprint.role_assignments) == (
        len(run.by_type(IDENTITY)),
        len(run.by_type(ROLE_ASSIGNMENT)),
    )
