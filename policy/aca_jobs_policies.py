"""The aca-jobs policy pack: the review the seed guides ask for, enforced on every preview.

Each policy is a name, a one-line description, a default enforcement level, config where a threshold is a
choice, and a small `validate` function whose message says what to change. `__main__.py` only wires them.

This module is also imported by the tests; it must not import the program's `components` (the CLI runs the
pack in its own virtualenv), so the few shared constants are repeated here and a test keeps them equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

JOB = "azure-native:app:Job"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
SB_NAMESPACE = "azure-native:servicebus:Namespace"
SB_QUEUE = "azure-native:servicebus:Queue"
STATEFUL_TYPES = (
    SB_NAMESPACE,
    SB_QUEUE,
    "azure-native:operationalinsights:Workspace",
    "azure-native:app:ManagedEnvironment",
)
TAGGABLE_TYPES = (
    "azure-native:resources:ResourceGroup",
    "azure-native:operationalinsights:Workspace",
    "azure-native:app:ManagedEnvironment",
    SB_NAMESPACE,
    IDENTITY,
    JOB,
)

# Markers the program sets on a job for deliberate choices (components/job_template.py).
IDEMPOTENT_TAG = "aca-jobs-idempotent"
PARTIAL_COMPLETION_TAG = "aca-jobs-partial-completion"

# Built-in role definition GUIDs.
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
SB_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SB_DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
SERVICE_BUS_DATA_ROLES = {
    SB_DATA_OWNER: "Data Owner",
    SB_DATA_RECEIVER: "Data Receiver",
    SB_DATA_SENDER: "Data Sender",
}
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}

JOB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
QUEUE_SCOPE = re.compile(r"/providers/Microsoft\.ServiceBus/namespaces/[^/]+/queues/[^/]+$", re.IGNORECASE)
# Values that are credentials whatever they are called.
CREDENTIAL_PATTERNS = re.compile(
    r"(SharedAccessKey=|AccountKey=|Password=|pwd=|-----BEGIN [A-Z ]*PRIVATE KEY-----|sig=[A-Za-z0-9%]{20,})",
    re.IGNORECASE,
)


# --- helpers ----------------------------------------------------------------------------------------------


def _get(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def _job_name(props: Mapping[str, Any], fallback: str) -> str:
    return str(props.get("jobName") or fallback)


def _trigger_config(configuration: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("manualTriggerConfig", "eventTriggerConfig", "scheduleTriggerConfig"):
        if isinstance(configuration.get(key), Mapping):
            return configuration[key]
    return {}


def _containers(props: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    template = props.get("template") or {}
    for key in ("containers", "initContainers"):
        yield from template.get(key) or []


def _scale_rules(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _get(props, "configuration", "eventTriggerConfig", "scale", "rules") or []


def _fallback_secret_names(props: Mapping[str, Any]) -> set[str]:
    """Secrets a Service Bus scale rule uses as its connection (the connection-string fallback)."""
    return {
        auth.get("secretRef")
        for rule in _scale_rules(props)
        if rule.get("type") == "azure-servicebus"
        for auth in rule.get("auth") or []
        if auth.get("triggerParameter") == "connection"
    }


def _tag(props: Mapping[str, Any], tag: str) -> bool:
    return str((props.get("tags") or {}).get(tag, "")).lower() == "true"


def _role_guid(role_definition_id: Any) -> str:
    return str(role_definition_id or "").rsplit("/", 1)[-1].lower()


# --- job identity and registries --------------------------------------------------------------------------


def _job_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    name = _job_name(args.props, args.name)
    identity = args.props.get("identity") or {}
    if "UserAssigned" not in str(identity.get("type", "")) or not identity.get("userAssignedIdentities"):
        report(
            f"job `{name}` has no user-assigned identity. Fix: assign one identity per job "
            "(identity.type UserAssigned) so its grants stay narrow."
        )
    for registry in _get(args.props, "configuration", "registries") or []:
        server = registry.get("server", "?")
        if registry.get("username") or registry.get("passwordSecretRef"):
            report(
                f"job `{name}` pulls from `{server}` with a username/password. Fix: remove them and set the "
                "registry's `identity` to the job's user-assigned identity (granted AcrPull)."
            )
        elif not registry.get("identity"):
            report(f"job `{name}` pulls from `{server}` without an identity. Fix: set the registry's `identity`.")


job_identity = ResourceValidationPolicy(
    name="job-user-assigned-identity",
    description="Every job has a user-assigned identity, and registries pull through an identity.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_job_identity,
)


# --- images -----------------------------------------------------------------------------------------------


def _image_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    require_digest = bool(args.get_config().get("requireDigest", False))
    name = _job_name(args.props, args.name)
    for container in _containers(args.props):
        image = str(container.get("image") or "")
        reference = image.split("@", 1)[0]
        tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else None
        has_digest = bool(DIGEST.search(image))
        if not has_digest and tag in (None, "latest"):
            report(
                f"job `{name}` runs `{image}`, which is {'untagged' if tag is None else 'the moving `latest` tag'}. "
                "Fix: pin a release tag or a digest (`:v1.2.3` or `@sha256:<digest>`)."
            )
        elif require_digest and not has_digest:
            report(
                f"job `{name}` runs `{image}` without a digest; this stack requires digests so that what was "
                "reviewed is what runs. Fix: append `@sha256:<digest>` (`az acr repository show -n <acr> "
                "--image <repo>:<tag> --query digest`)."
            )


image_pinned = ResourceValidationPolicy(
    name="job-image-pinned",
    description="Job images are pinned: no `latest`, no untagged image, and a digest where configured.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"requireDigest": {"type": "boolean", "default": False}},
    ),
    validate=_image_pinned,
)


# --- secrets ----------------------------------------------------------------------------------------------


def _secrets_not_plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    name = _job_name(args.props, args.name)
    fallback = _fallback_secret_names(args.props)
    for secret in _get(args.props, "configuration", "secrets") or []:
        secret_name = secret.get("name", "?")
        if secret.get("keyVaultUrl"):
            if not secret.get("identity"):
                report(
                    f"job `{name}` secret `{secret_name}` is a Key Vault reference without an identity. "
                    "Fix: set `identity` to a user-assigned identity with Key Vault Secrets User."
                )
        elif secret_name not in fallback:
            report(
                f"job `{name}` secret `{secret_name}` holds its value in the job configuration. Fix: store it "
                "in Key Vault and reference it (`keyVaultUrl` + `identity`), or use a managed identity instead."
            )
    for container in _containers(args.props):
        for variable in container.get("env") or []:
            value = variable.get("value")
            if isinstance(value, str) and CREDENTIAL_PATTERNS.search(value):
                report(
                    f"job `{name}` env `{variable.get('name')}` holds a credential in plain text. Fix: move it to "
                    "a Key Vault-referenced secret and use `secretRef`, or use the job's managed identity."
                )


secrets_not_plaintext = ResourceValidationPolicy(
    name="job-secrets-not-plaintext",
    description="No plaintext secret values in job configuration; Key Vault references pass.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_secrets_not_plaintext,
)


def _connection_string_fallback(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    for secret_name in sorted(_fallback_secret_names(args.props)):
        report(
            f"job `{_job_name(args.props, args.name)}` scales from a Service Bus connection string (secret "
            f"`{secret_name}`) instead of a managed identity. Fix: set `auth: managedIdentity` on the job, so "
            "the scaler uses its identity with Data Owner on the queue and the namespace can disable local auth."
        )


connection_string_fallback = ResourceValidationPolicy(
    name="job-connection-string-fallback",
    description="The Service Bus connection-string fallback is visible (advisory in dev, mandatory in prod).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_connection_string_fallback,
)


# --- scale rules ------------------------------------------------------------------------------------------


def _scaler_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    name = _job_name(args.props, args.name)
    for rule in _scale_rules(args.props):
        if rule.get("type") != "azure-servicebus":
            continue
        rule_name = rule.get("name", "?")
        if not rule.get("identity") and not rule.get("auth"):
            report(
                f"job `{name}` scale rule `{rule_name}` has no identity. Fix: set the rule's `identity` to the "
                "job's scaler identity (Data Owner on the queue)."
            )
        namespace = str(_get(rule, "metadata", "namespace") or "")
        if rule.get("identity") and "." in namespace:
            bare = namespace.split(".", 1)[0]
            report(
                f"job `{name}` scale rule `{rule_name}` has namespace `{namespace}`; with an identity KEDA appends "
                f"`.servicebus.windows.net` itself and would never see a message. Fix: use the bare name `{bare}`."
            )


scaler_identity = ResourceValidationPolicy(
    name="servicebus-scaler-identity",
    description="azure-servicebus scale rules authenticate with an identity and name the bare namespace.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_scaler_identity,
)


# --- retries, timeout, completion -------------------------------------------------------------------------


def _retry_bounded(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    config = args.get_config()
    idempotent = _tag(args.props, IDEMPOTENT_TAG)
    bound = int(config.get("maxRetryLimitIdempotent" if idempotent else "maxRetryLimit", 10 if idempotent else 1))
    retries = _get(args.props, "configuration", "replicaRetryLimit") or 0
    if retries > bound:
        fix = (
            f"lower replicaRetryLimit to {bound}"
            if idempotent
            else f"lower replicaRetryLimit to {bound}, or mark the job idempotent (`idempotent: true`, tag "
            f"`{IDEMPOTENT_TAG}`) if re-running a replica is safe"
        )
        report(f"job `{_job_name(args.props, args.name)}` retries a replica {int(retries)} times. Fix: {fix}.")


retry_bounded = ResourceValidationPolicy(
    name="job-retry-bounded",
    description="Replica retries stay within a bound; a higher bound only for jobs marked idempotent.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxRetryLimit": {"type": "integer", "minimum": 0, "default": 1},
            "maxRetryLimitIdempotent": {"type": "integer", "minimum": 0, "default": 10},
        },
    ),
    validate=_retry_bounded,
)


def _timeout_bounded(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    bound = int(args.get_config().get("maxReplicaTimeout", 86400))
    timeout = _get(args.props, "configuration", "replicaTimeout")
    name = _job_name(args.props, args.name)
    if not timeout:
        report(f"job `{name}` has no replicaTimeout. Fix: set replicaTimeout (seconds a replica may run).")
    elif timeout > bound:
        report(
            f"job `{name}` lets a replica run {int(timeout)} s, above this stack's bound of {bound} s. Fix: lower "
            "replicaTimeout, or split the work into smaller executions."
        )


timeout_bounded = ResourceValidationPolicy(
    name="job-timeout-bounded",
    description="Every job sets replicaTimeout, within a configured bound.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"maxReplicaTimeout": {"type": "integer", "minimum": 1, "default": 86400}},
    ),
    validate=_timeout_bounded,
)


def _partial_completion(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    trigger = _trigger_config(args.props.get("configuration") or {})
    parallelism, completions = trigger.get("parallelism") or 1, trigger.get("replicaCompletionCount") or 1
    if completions < parallelism and not _tag(args.props, PARTIAL_COMPLETION_TAG):
        report(
            f"job `{_job_name(args.props, args.name)}` succeeds after {int(completions)} of {int(parallelism)} "
            f"replicas (n-of-m) without the opt-in marker. Fix: set replicaCompletionCount to {int(parallelism)}, "
            f"or `allowPartialCompletion: true` (tag `{PARTIAL_COMPLETION_TAG}`) if the redundancy is deliberate."
        )


partial_completion = ResourceValidationPolicy(
    name="job-partial-completion-opt-in",
    description="n-of-m completion (completion count below parallelism) only with an explicit opt-in marker.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_partial_completion,
)


# --- Service Bus namespace --------------------------------------------------------------------------------


def _namespace_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SB_NAMESPACE:
        return
    if str(args.props.get("minimumTlsVersion") or "") not in ("1.2", "1.3"):
        report(
            f"Service Bus namespace `{args.props.get('namespaceName', args.name)}` accepts TLS below 1.2. "
            "Fix: set minimumTlsVersion to `1.2`."
        )


namespace_tls = ResourceValidationPolicy(
    name="servicebus-minimum-tls",
    description="Service Bus namespaces require TLS 1.2 or later.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_namespace_tls,
)


def _namespace_local_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SB_NAMESPACE:
        return
    if args.props.get("disableLocalAuth") is not True:
        report(
            f"Service Bus namespace `{args.props.get('namespaceName', args.name)}` allows SAS keys (local auth). "
            "Fix: set disableLocalAuth to true; move any job with `auth: connectionString` to `managedIdentity`."
        )


namespace_local_auth = ResourceValidationPolicy(
    name="servicebus-local-auth-disabled",
    description="Service Bus namespaces disable local (SAS) authentication.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_namespace_local_auth,
)


# --- least privilege (stack) ------------------------------------------------------------------------------


def _identity_of(assignment: PolicyResource, resources: list[PolicyResource]) -> PolicyResource | None:
    """The user-assigned identity a role assignment grants to: by property dependency, else by principal id."""
    for dependency in assignment.property_dependencies.get("principalId", []):
        if dependency.resource_type == IDENTITY:
            return dependency
    principal = assignment.props.get("principalId")
    for resource in resources:
        if resource.resource_type == IDENTITY and principal and resource.props.get("principalId") == principal:
            return resource
    return None


def _identity_id_matches(identity: PolicyResource, identity_id: Any) -> bool:
    name = str(identity.props.get("resourceName") or identity.name).lower()
    group = str(identity.props.get("resourceGroupName") or "").lower()
    expected = f"/resourcegroups/{group}/providers/microsoft.managedidentity/userassignedidentities/{name}"
    return str(identity_id or "").lower().endswith(expected)


def _check_owner_unreachable(identity: PolicyResource, job: PolicyResource, report: ReportViolation) -> None:
    """A job that assigns a Data Owner identity must list it with lifecycle `None` (unset means `All`)."""
    name = _job_name(job.props, job.name)
    listed = [
        setting
        for setting in _get(job.props, "configuration", "identitySettings") or []
        if _identity_id_matches(identity, setting.get("identity"))
    ]
    for setting in listed:
        if setting.get("lifecycle") != "None":
            report(
                f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` lets containers use it "
                f"(lifecycle `{setting.get('lifecycle')}`). Fix: set its lifecycle to `None`; give the code a "
                "separate identity with Data Receiver.",
                job.urn,
            )
    assigned = _get(job.props, "identity", "userAssignedIdentities") or []
    if not listed and any(_identity_id_matches(identity, assigned_id) for assigned_id in assigned):
        report(
            f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` assigns it without "
            "identitySettings, so every container can use it (default lifecycle `All`). Fix: list it with "
            "lifecycle `None`.",
            job.urn,
        )


def _least_privilege(args: StackValidationArgs, report: ReportViolation) -> None:
    jobs = [r for r in args.resources if r.resource_type == JOB]
    for assignment in (r for r in args.resources if r.resource_type == ROLE_ASSIGNMENT):
        guid = _role_guid(assignment.props.get("roleDefinitionId"))
        scope = str(assignment.props.get("scope") or "")
        if guid in BROAD_ROLES:
            report(
                f"role assignment `{assignment.name}` grants {BROAD_ROLES[guid]} on `{scope}`. Fix: grant the "
                "narrowest data or pull role the job needs (AcrPull, Service Bus Data Receiver) instead.",
                assignment.urn,
            )
            continue
        if guid not in SERVICE_BUS_DATA_ROLES:
            continue
        role = SERVICE_BUS_DATA_ROLES[guid]
        if not QUEUE_SCOPE.search(scope):
            report(
                f"role assignment `{assignment.name}` grants Service Bus {role} on `{scope}`, wider than one "
                "queue. Fix: scope it to the queue's resource id.",
                assignment.urn,
            )
        if guid != SB_DATA_OWNER:
            continue
        identity = _identity_of(assignment, args.resources)
        if identity is None:
            report(
                f"role assignment `{assignment.name}` grants Service Bus Data Owner to a principal that is not a "
                "user-assigned identity of this stack. Fix: grant it only to a job's scaler identity.",
                assignment.urn,
            )
            continue
        for job in jobs:
            _check_owner_unreachable(identity, job, report)


least_privilege = StackValidationPolicy(
    name="least-privilege-role-assignments",
    description=(
        "Service Bus data roles only at queue scope; Data Owner only for identities no container can use; "
        "no Owner, Contributor or User Access Administrator grants."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_least_privilege,
)


# --- protection, names, tags ------------------------------------------------------------------------------


def _stateful_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in STATEFUL_TYPES or not args.get_config().get("requireProtection", False):
        return
    if not args.opts.protect:
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} `{args.name}` holds data but is not protected in a stack that "
            "requires it. Fix: set `protect: true` under aca-jobs:platform."
        )


stateful_protected = ResourceValidationPolicy(
    name="stateful-resources-protected",
    description="Stateful resources (namespace, queues, workspace, environment) are protected where required.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"requireProtection": {"type": "boolean", "default": False}},
    ),
    validate=_stateful_protected,
)


def _job_name_format(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != JOB:
        return
    name = str(args.props.get("jobName") or "")
    if not JOB_NAME.fullmatch(name) or "--" in name:
        report(
            f"job name `{name}` breaks the Container Apps rules. Fix: use 2-32 lowercase letters, digits and "
            "'-', starting with a letter, ending with a letter or digit, with no '--'."
        )


job_name_format = ResourceValidationPolicy(
    name="job-name-format",
    description="Job names follow the Container Apps naming rules.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_job_name_format,
)


def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE_TYPES:
        return
    required = list(args.get_config().get("requiredTags", ["owner"]))
    tags = args.props.get("tags") or {}
    missing = [tag for tag in required if not tags.get(tag)]
    if missing:
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} `{args.name}` lacks required tags {missing}. Fix: add them "
            "under aca-jobs:platform.tags."
        )


required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry the stack's required tags.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": ["owner"]}},
    ),
    validate=_required_tags,
)


POLICIES = [
    job_identity,
    image_pinned,
    secrets_not_plaintext,
    connection_string_fallback,
    scaler_identity,
    retry_bounded,
    timeout_bounded,
    partial_completion,
    namespace_tls,
    namespace_local_auth,
    least_privilege,
    stateful_protected,
    job_name_format,
    required_tags,
]
