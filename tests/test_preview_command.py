"""`python -m tools.preview`: the JSON contract, the tree, and exit codes (0 valid, 2 config/usage error)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_DIR

from tools import preview
from tools.offline import UNKNOWN

RESOURCE_KEYS = {
    "urn",
    "type",
    "name",
    "id",
    "parent",
    "inputs",
    "outputs",
    "dependencies",
    "propertyDependencies",
    "protect",
    "retainOnDelete",
}


def write_stack(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_json_document_follows_the_contract(preview_main, capsys: pytest.CaptureFixture[str]) -> None:
    assert preview_main(["--stack", "dev", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) >= {"project", "stack", "resources", "outputs"}
    assert (document["project"], document["stack"]) == ("aca-jobs", "dev")
    for resource in document["resources"]:
        assert set(resource) == RESOURCE_KEYS
    assert document["mode"] == "new-stack"
    job = next(r for r in document["resources"] if r["type"] == "azure-native:app:Job")
    assert job["inputs"]["configuration"]["replicaTimeout"] == 1800  # an integer, camelCase key
    # A create in a first preview has no id yet: shown as `pulumi preview --json` shows an unknown.
    assert job["id"] == UNKNOWN
    assert "jobName" not in job["outputs"] and job["outputs"]["name"] == UNKNOWN
    environment = next(r for r in document["resources"] if r["type"] == "azure-native:app:ManagedEnvironment")
    assert environment["inputs"]["appLogsConfiguration"]["logAnalyticsConfiguration"]["sharedKey"] == "[secret]"
    assert "mock-primary-key" not in json.dumps(document)
    assert "job-orders-backfill" in document["outputs"]["jobs"]


def test_tree_shows_types_names_nesting_and_outputs(preview_main, capsys: pytest.CaptureFixture[str]) -> None:
    assert preview_main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "pulumi:pulumi:Stack" in out and "aca-jobs-prod" in out
    assert "\n +      ├─ aca-jobs:index:JobIdentity " in out  # a child of the ManualJob component
    assert "\n +      │  ├─ azure-native:authorization:RoleAssignment " in out  # a child of the JobIdentity
    assert "azure-native:app:Job" in out and "(protected)" in out
    assert "Outputs:" in out and "startCommand" in out


def test_config_file_option_replaces_the_stack_file(preview_main, tmp_path: Path, capsys) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["aca-jobs:manualJobs"]["job-from-file"] = {"image": "acrsharedprod.azurecr.io/jobs/x:v1"}
    path = write_stack(tmp_path, config)
    assert preview_main(["--stack", "dev", "--config-file", str(path), "--json"]) == 0
    assert "job-from-file" in json.loads(capsys.readouterr().out)["outputs"]["jobs"]


def test_broken_rule_exits_2_with_the_key_and_no_resources(preview_main, tmp_path: Path, capsys) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["replicaRetryLimit"] = 3
    path = write_stack(tmp_path, config)
    assert preview_main(["--stack", "dev", "--config-file", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Pulumi.broken.yaml: aca-jobs:manualJobs.job-orders-backfill.replicaRetryLimit:" in captured.err


def test_missing_stack_file_exits_2(preview_main, capsys) -> None:
    assert preview_main(["--stack", "nosuchstack"]) == 2
    assert "Pulumi.nosuchstack.yaml" in capsys.readouterr().err


def test_encrypted_values_are_refused_offline(preview_main, tmp_path: Path, capsys) -> None:
    path = write_stack(tmp_path, {"aca-jobs:token": {"secure": "AAABAxyz"}})
    assert preview_main(["--stack", "dev", "--config-file", str(path)]) == 2
    assert "aca-jobs:token" in capsys.readouterr().err


def test_project_defaults_apply_below_stack_values() -> None:
    project = {"config": {"aca-jobs:a": {"default": 1}, "b": {"value": 2}, "aca-jobs:c": 3, "d": {"type": "string"}}}
    assert preview.project_defaults(project, "aca-jobs") == {
        "aca-jobs:a": 1,
        "aca-jobs:b": 2,
        "aca-jobs:c": 3,
    }
    assert preview.stack_config({"config": {"b": 5}}, "Pulumi.x.yaml", "aca-jobs") == {"aca-jobs:b": 5}


def test_process_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    """The real process: usage error and config error exit 2 with a message and no traceback."""
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["image"] = "acrsharedprod.azurecr.io/jobs/x:latest"
    path = write_stack(tmp_path, config)
    command = [sys.executable, "-m", "tools.preview"]
    broken = subprocess.run(
        [*command, "--stack", "dev", "--config-file", str(path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    usage = subprocess.run([*command, "--json"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    valid = subprocess.run([*command, "--stack", "dev"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert (valid.returncode, valid.stderr) == (0, "")  # no shutdown noise after a clean preview
    assert (broken.returncode, broken.stdout) == (2, "")
    assert "aca-jobs:manualJobs.job-orders-backfill.image" in broken.stderr
    assert "Traceback" not in broken.stderr
    assert usage.returncode == 2 and "--stack" in usage.stderr and "Traceback" not in usage.stderr


def test_preview_of_a_host_name_namespace_shows_the_bare_name_in_the_scale_rule(
    preview_main, tmp_path: Path, capsys
) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    config["aca-jobs:platform"]["serviceBus"]["namespace"] = "sb-aca-prod.servicebus.windows.net"
    path = str(write_stack(tmp_path, config))
    # Deployed: the scaler's id is the one Azure gave it, and the rule must name exactly that.
    assert preview_main(["--stack", "prod", "--as", "deployed", "--config-file", path, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    job = next(
        r for r in document["resources"] if r["type"] == "azure-native:app:Job" and r["name"] == "job-orders-queue"
    )
    scaler = next(
        r
        for r in document["resources"]
        if r["type"] == "azure-native:managedidentity:UserAssignedIdentity" and r["name"] == "job-orders-queue-scaler"
    )
    rule = job["inputs"]["configuration"]["eventTriggerConfig"]["scale"]["rules"][0]
    assert rule["metadata"]["namespace"] == "sb-aca-prod"
    assert rule["metadata"]["queueName"] == "orders"
    assert rule["metadata"]["messageCount"] == "10"
    assert rule["identity"] == scaler["id"]


def test_preview_warns_about_the_connection_string_fallback_by_job_name(preview_main, tmp_path: Path, capsys) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["aca-jobs:eventJobs"]["job-orders-queue"]["auth"] = "connectionString"
    assert preview_main(["--stack", "dev", "--config-file", str(write_stack(tmp_path, config))]) == 0
    out = capsys.readouterr().out
    assert "warning: event job `job-orders-queue` uses `auth: connectionString`" in out
    assert "azure-native:servicebus:QueueAuthorizationRule" in out


@pytest.mark.parametrize(("mode", "custom_id"), [("new-stack", UNKNOWN), ("deployed", "/subscriptions/")])
def test_components_have_no_id_and_custom_resources_do(preview_main, mode: str, custom_id: str, capsys) -> None:
    assert preview_main(["--stack", "dev", "--as", mode, "--json"]) == 0
    resources = json.loads(capsys.readouterr().out)["resources"]
    components = [r for r in resources if r["type"].startswith("aca-jobs:")]
    assert components and all(r["id"] is None for r in components)
    assert all(r["id"].startswith(custom_id) for r in resources if r["type"].startswith("azure-native:"))


def test_tree_shows_unknown_outputs_as_the_cli_does(preview_main, capsys) -> None:
    assert preview_main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert '"identityPrincipalId": [unknown]' in out  # computed by Azure: not known in a first preview
    assert "workspaceCustomerId: [unknown]" in out
    assert '"queueName": "orders"' in out  # known from config
    assert "04da6b54" not in out


# --- policy review in the preview ---------------------------------------------------------------------------


def prod_config() -> dict:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]


def prod_job(config: dict, kind: str = "eventJobs") -> dict:
    return config[f"aca-jobs:{kind}"]["job-orders-queue" if kind == "eventJobs" else "job-orders-backfill"]


PROD_VIOLATIONS = [
    (
        "connection-string-fallback",
        lambda c: prod_job(c).update(auth="connectionString"),
        "job-connection-string-fallback",
        "job-orders-queue",
    ),
    (
        "tag-without-digest",
        lambda c: prod_job(c, "manualJobs").update(image="acrsharedprod.azurecr.io/jobs/orders-backfill:v1.0.0"),
        "job-image-pinned",
        "job-orders-backfill",
    ),
    (
        "not-protected",
        lambda c: c["aca-jobs:platform"].update(protect=False),
        "stateful-resources-protected",
        "queue-orders",
    ),
    (
        "missing-required-tag",
        lambda c: c["aca-jobs:platform"]["tags"].pop("environment"),
        "required-tags",
        "job-orders-queue",
    ),
    (
        "timeout-above-bound",
        lambda c: prod_job(c).update(replicaTimeout=9000),
        "job-timeout-bounded",
        "job-orders-queue",
    ),
    ("retries-above-bound", lambda c: prod_job(c).update(replicaRetryLimit=6), "job-retry-bounded", "job-orders-queue"),
]


@pytest.mark.parametrize(
    ("mutate", "policy", "resource"), [v[1:] for v in PROD_VIOLATIONS], ids=[v[0] for v in PROD_VIOLATIONS]
)
def test_a_mandatory_violation_exits_1_naming_resource_and_fix(
    preview_main, tmp_path: Path, capsys, mutate, policy: str, resource: str
) -> None:
    config = prod_config()
    mutate(config)
    path = write_stack(tmp_path, config)
    assert (
        preview_main(
            [
                "--stack",
                "prod",
                "--config-file",
                str(path),
                "--policy-config",
                str(PROJECT_DIR / "policy" / "prod.json"),
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if f"  {policy}  " in line and line.endswith(f": {resource})")]
    assert lines and all(line.startswith("    [mandatory]") for line in lines), out
    assert "Fix: " in out


def test_json_lists_policy_violations(preview_main, tmp_path: Path, capsys) -> None:
    config = prod_config()
    prod_job(config).update(auth="connectionString")
    path = write_stack(tmp_path, config)
    assert preview_main(["--stack", "prod", "--config-file", str(path), "--json"]) == 1
    violations = json.loads(capsys.readouterr().out)["policyViolations"]
    assert violations and all(set(v) == {"policyName", "enforcementLevel", "urn", "message"} for v in violations)
    fallback = next(v for v in violations if v["policyName"] == "job-connection-string-fallback")
    assert fallback["enforcementLevel"] == "mandatory"
    assert fallback["urn"].endswith("azure-native:app:Job::job-orders-queue")


def test_advisory_violations_do_not_fail_dev(preview_main, tmp_path: Path, capsys) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["aca-jobs:eventJobs"]["job-orders-queue"]["auth"] = "connectionString"
    assert preview_main(["--stack", "dev", "--config-file", str(write_stack(tmp_path, config))]) == 0
    assert "[advisory]  aca-jobs-policies  job-connection-string-fallback" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["new-stack", "deployed"])
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_committed_stacks_preview_clean(preview_main, stack: str, mode: str, capsys) -> None:
    # No violation, and no "can't run policy" note: those are advisory diagnostics and would be listed here. Dev
    # does not alert by design, which its policy config keeps advisory: one note per job, nothing else.
    assert preview_main(["--stack", stack, "--as", mode, "--json"]) == 0
    violations = json.loads(capsys.readouterr().out)["policyViolations"]
    expected = [] if stack != "dev" else [("job-failure-alerted", "advisory")] * 6
    assert [(v["policyName"], v["enforcementLevel"]) for v in violations] == expected


def test_bad_policy_config_or_pack_exits_2(preview_main, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "policy.json"
    bad.write_text('{"no-such-policy": "mandatory"}')
    assert preview_main(["--stack", "dev", "--policy-config", str(bad)]) == 2
    assert "no-such-policy" in capsys.readouterr().err
    dev_policy = str(PROJECT_DIR / "policy" / "dev.json")
    assert preview_main(["--stack", "dev", "--policy-pack", str(tmp_path), "--policy-config", dev_policy]) == 2
    assert "not a policy pack" in capsys.readouterr().err


def test_a_failing_policy_pack_exits_3_not_1(preview_main, tmp_path: Path, capsys) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(PROJECT_DIR / "policy", pack, ignore=shutil.ignore_patterns("__pycache__"))
    policies = pack / "aca_jobs_policies.py"
    source = policies.read_text()
    broken = "def _job_name_format(args: ResourceValidationArgs, report: ReportViolation) -> None:\n"
    policies.write_text(source.replace(broken, broken + '    raise ValueError("policy bug")\n'))
    assert preview_main(["--stack", "dev", "--policy-pack", str(pack)]) == 3
    captured = capsys.readouterr()
    assert "failed, so the stack was not reviewed" in captured.err and "policy bug" in captured.err


def test_make_preview_passes_a_valid_mode() -> None:
    # `AS` is one of make's built-in variables (the assembler, `as`): the mode needs a name of its own.
    result = subprocess.run(["make", "-n", "preview"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=30)
    assert "--as new-stack" in result.stdout, result.stdout + result.stderr
