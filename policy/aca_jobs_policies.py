"""The aca-jobs policy pack: the review the seed guides ask for, enforced on every preview.

Each policy is a name, a one-line description, a default enforcement level, config where a threshold is a
choice, and a small `validate` function whose message says what to change. `__main__.py` only wires them.

This module is also imported by the tests; it must not import the program's `components` (the CLI runs the
pack in its own virtualenv), so the few shared constants are repeated here and a test keeps them equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

JOB = "azure-native:app:Job"
# The program's component around each identity; it registers the identity's `id` (known in a first preview).
JOB_IDENTITY_COMPONENT = "aca-jobs:index:JobIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
SB_NAMESPACE = "azure-native:servicebus:Namespace"
SB_QUEUE = "azure-native:servicebus:Queue"
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
FAILURE_REASONS = ("Failed", "BackoffLimitExceeded", "DeadlineExceeded")
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
# Roles that manage resources or grant access, flagged at any scope: Owner, User Access Administrator and Role
# Based Access Control Administrator can write role assignments (`Microsoft.Authorization/roleAssignments/write`),
# so a holder can grant itself Owner. All four are in Microsoft Learn's "Azure built-in roles for Privileged"
# (learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged). Role Based Access Control
# Administrator's id f58310d9-a9f6-439a-9e8d-f62e7b41a168 is checked against the Azure Verified Modules spec BCPNFR6
# (azure.github.io/AVM-Test/spec/BCPNFR6, "Role Based Access Control Administrator - ID: f58310d9-...") and its
# built-in definition `/providers/Microsoft.Authorization/roleDefinitions/f58310d9-...` (roleAssignments/write).
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}

# Key Vault data roles (Microsoft Learn "Azure built-in roles", Security). Secrets User reads secret values: one
# secret at a time (`<vault id>/secrets/<name>`). The others write or manage vault contents, which no job needs.
KV_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_MANAGING_ROLES = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
}
SECRET_SCOPE = re.compile(r"/providers/Microsoft\.KeyVault/vaults/[^/]+/secrets/[^/]+$", re.IGNORECASE)
# A subscription or a resource group: wider than any one resource a job works on.
CONTAINER_SCOPE = re.compile(r"^/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?/?$|^/$", re.IGNORECASE)
# Standard five-field cron, as Azure takes it for scheduled jobs (evaluated in UTC).
CRON_FIELD = re.compile(r"^[A-Za-z0-9*/,-]+$")

JOB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
QUEUE_SCOPE = re.compile(r"/providers/Microsoft\.ServiceBus/namespaces/[^/]+/queues/[^/]+$", re.IGNORECASE)
# Values that are credentials whatever they are called: connection-string keys, a private key, a password in a URL
# (`scheme://user:password@host`, the user may be empty) and any SAS signature (`sig=`, raw base64 included).
CREDENTIAL_PATTERNS = re.compile(
    r"(SharedAccessKey=|AccountKey=|Password=|pwd=|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|[a-z][a-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@"
    r"|(?<![a-z0-9_])sig=[^&\s]+)",
    re.IGNORECASE,
)
# Env names that say their value is a secret: a literal value there is a credential in plain text.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|APIKEY|CONNECTION_STRING|_KEY$", re.IGNORECASE)
# Azure Resource Manager tag limits (Microsoft Learn, "Use tags to organize your Azure resources", Limitations).
TAG_NAME_MAX, TAG_VALUE_MAX = 512, 256


# --- reading what the engine sends ------------------------------------------------------------------------
#
# In a preview, values Azure has not computed yet reach a policy as unknowns, and the SDK's property proxy raises
# `UnknownValueError` when `validate` reads one (pulumi_policy `proxy.py` `_raise_if_unknown`); the SDK then
# turns the whole policy into an ADVISORY "can't run policy ... during preview" note (`policy.py`, the
# `UnknownValueError` handlers of `Analyze` and `AnalyzeStack`) - a mandatory policy silently skipped. So every
# policy first copies what it reads into plain values, each unknown becoming `UNKNOWN`: an unknown value counts
# as "set, value not known yet", the rest of the resource is still checked, and a rule that needs the value
# reports what it could not verify instead of passing.


class _Unknown:
    """A value the engine does not know yet (truthy: the property is set)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


def plain(value: Any) -> Any:
    """Props as plain dicts and lists, unknowns as `UNKNOWN`."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def known(value: Any) -> bool:
    return value is not UNKNOWN


def _get(value: Any, *path: str | int) -> Any:
    """The value at `path`, None where absent; `UNKNOWN` where a step is unknown."""
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def _list(value: Any) -> list[Any]:
    """A list property; an unknown list reads as one unknown element."""
    if value is UNKNOWN:
        return [UNKNOWN]
    return list(value) if isinstance(value, list) else []


def _job_name(props: Mapping[str, Any], fallback: str) -> str:
    name = props.get("jobName") or props.get("name")
    return str(name) if isinstance(name, str) else fallback


def _trigger_config(configuration: Any) -> Mapping[str, Any]:
    """The block that matches `triggerType` (the one Azure acts on)."""
    trigger = _get(configuration, "triggerType")
    key = {"Manual": "manualTriggerConfig", "Event": "eventTriggerConfig", "Schedule": "scheduleTriggerConfig"}.get(
        trigger if isinstance(trigger, str) else ""
    )
    block = _get(configuration, key) if key else None
    return block if isinstance(block, Mapping) else {}


def _containers(props: Mapping[str, Any]) -> Iterator[Any]:
    for key in ("containers", "initContainers"):
        yield from _list(_get(props, "template", key))


def _scale_rules(props: Mapping[str, Any]) -> list[Any]:
    return _list(_get(props, "configuration", "eventTriggerConfig", "scale", "rules"))


def _fallback_secret_names(props: Mapping[str, Any]) -> set[Any]:
    """Secrets a Service Bus scale rule uses as its connection (the connection-string fallback)."""
    return {
        _get(auth, "secretRef")
        for rule in _scale_rules(props)
        if _get(rule, "type") == "azure-servicebus"
        for auth in _list(_get(rule, "auth"))
        if _get(auth, "triggerParameter") == "connection"
    }


def _tag(props: Mapping[str, Any], tag: str) -> bool:
    return str(_get(props, "tags", tag) or "").lower() == "true"


def _role_guid(role_definition_id: Any) -> str:
    return str(role_definition_id or "").rsplit("/", 1)[-1].lower()


def _same_id(left: Any, right: Any) -> bool:
    """ARM ids compare case-insensitively; an unknown id matches nothing."""
    return isinstance(left, str) and isinstance(right, str) and left.lower() == right.lower()


def _lifecycle_of(props: Mapping[str, Any], identity_id: Any) -> tuple[bool, Any]:
    """Whether the job lists `identity_id` in identitySettings, and with which lifecycle (unset means `All`)."""
    for setting in _list(_get(props, "configuration", "identitySettings")):
        if _same_id(_get(setting, "identity"), identity_id):
            return True, _get(setting, "lifecycle") or "All"
    return False, None


def _check_platform_only(
    props: Mapping[str, Any], identity_id: Any, what: str, name: str, report: ReportViolation
) -> None:
    """The identity the platform uses for `what` must be listed with lifecycle `None`: no container can take
    its tokens."""
    if not known(identity_id):
        report(
            f"job `{name}` {what} identity is not known during preview, so it cannot be verified that containers "
            "cannot use it. Fix: build the identity id from names known before deployment (as aca-jobs does), so "
            "the review can match it to identitySettings."
        )
        return
    listed, lifecycle = _lifecycle_of(props, identity_id)
    if not listed:
        report(
            f"job `{name}` {what} identity `{identity_id}` is not in identitySettings, so every container can use "
            "it (default lifecycle `All`). Fix: list it with lifecycle `None`."
        )
    elif lifecycle != "None":
        report(
            f"job `{name}` {what} identity `{identity_id}` has lifecycle `{lifecycle}`, so containers can take its "
            "tokens. Fix: set its lifecycle to `None`; give the code its own identity."
        )


def _type_of(args: ResourceValidationArgs, *types: str) -> Mapping[str, Any]:
    """The resource's props as plain values, or not applicable when it is not one of `types`."""
    if args.resource_type not in types:
        args.not_applicable(f"applies to {', '.join(types)} only")
    return plain(args.props)


# --- job identity and registries --------------------------------------------------------------------------


def _job_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    identity_type = _get(props, "identity", "type")
    assigned = _get(props, "identity", "userAssignedIdentities")
    if (known(identity_type) and "UserAssigned" not in str(identity_type or "")) or not assigned:
        report(
            f"job `{name}` has no user-assigned identity. Fix: assign one identity per job "
            "(identity.type UserAssigned) so its grants stay narrow."
        )
    for registry in _list(_get(props, "configuration", "registries")):
        server = _get(registry, "server") or "?"
        if _get(registry, "username") or _get(registry, "passwordSecretRef"):
            report(
                f"job `{name}` pulls from `{server}` with a username/password. Fix: remove them and set the "
                "registry's `identity` to the job's user-assigned identity (granted AcrPull)."
            )
        elif not _get(registry, "identity"):
            report(f"job `{name}` pulls from `{server}` without an identity. Fix: set the registry's `identity`.")
        else:
            _check_platform_only(props, _get(registry, "identity"), f"registry `{server}` pull", name, report)
    for secret in _list(_get(props, "configuration", "secrets")):
        if _get(secret, "keyVaultUrl") and _get(secret, "identity"):
            # The platform reads the secret for the job; the code gets it through `secretRef`, never the identity.
            what = f"Key Vault secret `{_get(secret, 'name') or '?'}` reading"
            _check_platform_only(props, _get(secret, "identity"), what, name, report)


job_identity = ResourceValidationPolicy(
    name="job-user-assigned-identity",
    description=(
        "Every job has a user-assigned identity; registries pull, and Key Vault secrets are read, through an identity "
        "that no container can use."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Give each job its own user-assigned identity; pull images through it, listed with lifecycle "
    "`None` in identitySettings.",
    validate=_job_identity,
)


# --- images -----------------------------------------------------------------------------------------------


def _images(props: Mapping[str, Any], name: str, checked: str, report: ReportViolation) -> Iterator[str]:
    """Each container's image; one not known during preview is reported as unverifiable (what `checked` names)."""
    for container in _containers(props):
        image = _get(container, "image")
        if isinstance(image, str):
            yield image
        else:
            report(
                f"job `{name}` runs an image that is not known during preview, so its {checked} cannot be verified. "
                "Fix: write the image reference in the stack file."
            )


def _image_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    require_digest = bool(args.get_config().get("requireDigest", False))
    name = _job_name(props, args.name)
    for image in _images(props, name, "pinning", report):
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
    severity=Severity.HIGH,
    remediation_steps="Pin each image by release tag, or by digest where the stack requires it.",
    config_schema=PolicyConfigSchema(
        properties={"requireDigest": {"type": "boolean", "default": False}},
    ),
    validate=_image_pinned,
)


def _pull_servers(props: Mapping[str, Any]) -> tuple[set[str], bool]:
    """The registry servers the job pulls from through an identity (lowercase), and whether one is not known."""
    servers, unknown = set(), False
    for registry in _list(_get(props, "configuration", "registries")):
        if not isinstance(registry, Mapping):
            unknown = unknown or not known(registry)
            continue
        if not _get(registry, "identity") or _get(registry, "username") or _get(registry, "passwordSecretRef"):
            continue
        server = _get(registry, "server")
        if isinstance(server, str):
            servers.add(server.lower())
        elif not known(server):
            unknown = True
    return servers, unknown


def _image_from_pull_registry(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    servers, unknown_server = _pull_servers(props)
    allowed = ", ".join(f"`{s}`" for s in sorted(servers)) or "none"
    for image in _images(props, name, "registry", report):
        # The registry host is the part before the first `/`, port included; no `/` means Docker Hub.
        host = image.split("/", 1)[0] if "/" in image else None
        if host is not None and host.lower() in servers:
            continue
        if host is not None and unknown_server:
            report(
                f"job `{name}` runs `{image}` from `{host}`, and a registry server the job pulls from is not known "
                "during preview, so it cannot be verified that the image comes from a reviewed registry. Fix: write "
                "the registry server in the stack file."
            )
        else:
            source = f"from `{host}`" if host is not None else "from Docker Hub (no registry host)"
            report(
                f"job `{name}` runs `{image}` {source}, which is not a registry the job pulls from through an "
                f"identity (pull registries: {allowed}). Fix: import the image into the platform registry "
                "(`az acr import`) and reference it as `<server>/<repository>:<tag>` with that exact host."
            )


image_from_pull_registry = ResourceValidationPolicy(
    name="job-image-from-pull-registry",
    description="Job images come only from a registry the job pulls from through an identity.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Import the image into the platform registry and reference it by that registry's host.",
    validate=_image_from_pull_registry,
)


# --- secrets ----------------------------------------------------------------------------------------------


def _secrets_not_plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    fallback = _fallback_secret_names(props)
    for secret in _list(_get(props, "configuration", "secrets")):
        secret_name = _get(secret, "name") or "?"
        if _get(secret, "keyVaultUrl"):
            if not _get(secret, "identity"):
                report(
                    f"job `{name}` secret `{secret_name}` is a Key Vault reference without an identity. "
                    "Fix: set `identity` to a user-assigned identity with Key Vault Secrets User."
                )
        elif secret_name not in fallback:
            # A value that is unknown during preview is still a value held in the job configuration.
            report(
                f"job `{name}` secret `{secret_name}` holds its value in the job configuration. Fix: store it "
                "in Key Vault and reference it (`keyVaultUrl` + `identity`), or use a managed identity instead."
            )
    for container in _containers(props):
        for variable in _list(_get(container, "env")):
            _check_env(variable, fallback, name, report)


def _check_env(variable: Any, fallback: set[Any], name: str, report: ReportViolation) -> None:
    """One env entry: no credential as a literal value, no reference to the scaler's connection string."""
    variable_name, value, secret_ref = _get(variable, "name"), _get(variable, "value"), _get(variable, "secretRef")
    shown = variable_name if isinstance(variable_name, str) else "(name not known during preview)"
    if isinstance(secret_ref, str) and secret_ref in fallback:
        report(
            f"job `{name}` env `{shown}` reads secret `{secret_ref}`, the Service Bus connection string the scale "
            "rule authenticates with; it hands the code Manage rights on the namespace. Fix: remove the env entry "
            "and let the code use its own identity (Service Bus Data Receiver on the queue, `AZURE_CLIENT_ID`)."
        )
    elif secret_ref and fallback and (not known(secret_ref) or UNKNOWN in fallback):
        report(
            f"job `{name}` env `{shown}` reads a secret, and which secret it reads or which secret the Service Bus "
            "scale rule authenticates with is not known during preview, so it cannot be verified that the code "
            "does not get the scaler's connection string. Fix: write the secret names in the stack file."
        )
    # An unknown value comes from a resource output (an id, a client id), not from a literal: skip it and go on
    # with the next entry.
    if not isinstance(value, str):
        return
    if CREDENTIAL_PATTERNS.search(value):
        report(
            f"job `{name}` env `{shown}` holds a credential in plain text. Fix: move it to a Key Vault-referenced "
            "secret and use `secretRef`, or use the job's managed identity."
        )
    elif value and isinstance(variable_name, str) and SECRET_NAME.search(variable_name):
        report(
            f"job `{name}` env `{variable_name}` is named as a secret and holds a literal value. Fix: move the "
            "value to a Key Vault-referenced secret and use `secretRef`, or use the job's managed identity."
        )
    elif value and not known(variable_name):
        report(
            f"job `{name}` has an env entry whose name is not known during preview and that holds a literal "
            "value, so it cannot be verified not to be a secret. Fix: write the env name in the stack file."
        )


secrets_not_plaintext = ResourceValidationPolicy(
    name="job-secrets-not-plaintext",
    description=(
        "No plaintext secret values in job configuration or env (credential-looking values, secret-named variables), "
        "no env reference to the scaler's connection string; Key Vault references pass."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Keep secrets in Key Vault (`keyVaultUrl` + `identity`, env `secretRef`) or use the job's "
    "managed identity.",
    validate=_secrets_not_plaintext,
)


def _connection_string_fallback(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    for secret_name in sorted(str(n) for n in _fallback_secret_names(props)):
        report(
            f"job `{_job_name(props, args.name)}` scales from a Service Bus connection string (secret "
            f"`{secret_name}`) instead of a managed identity. Fix: set `auth: managedIdentity` on the job, so "
            "the scaler uses its identity with Data Owner on the queue and the namespace can disable local auth."
        )


connection_string_fallback = ResourceValidationPolicy(
    name="job-connection-string-fallback",
    description="The Service Bus connection-string fallback is visible (advisory in dev, mandatory in prod).",
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set `auth: managedIdentity` on the event job.",
    validate=_connection_string_fallback,
)


# --- scale rules ------------------------------------------------------------------------------------------


def _scaler_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    for rule in _scale_rules(props):
        if _get(rule, "type") != "azure-servicebus":
            continue
        rule_name = _get(rule, "name") or "?"
        identity, auth = _get(rule, "identity"), _get(rule, "auth")
        if not identity and not auth:
            report(
                f"job `{name}` scale rule `{rule_name}` has no identity. Fix: set the rule's `identity` to the "
                "job's scaler identity (Data Owner on the queue)."
            )
        if identity:
            namespace = _get(rule, "metadata", "namespace")
            if not isinstance(namespace, str):
                report(
                    f"job `{name}` scale rule `{rule_name}` has a namespace that is not known during preview, so it "
                    "cannot be verified to be the bare name. Fix: write the namespace name in the stack file."
                )
            elif "." in namespace:
                bare = namespace.split(".", 1)[0]
                report(
                    f"job `{name}` scale rule `{rule_name}` has namespace `{namespace}`; with an identity KEDA "
                    "appends `.servicebus.windows.net` itself and would never see a message. Fix: use the bare "
                    f"name `{bare}`."
                )
            # The scaler's identity holds Data Owner (Manage): only the platform may use it.
            if identity != "system":
                _check_platform_only(props, identity, f"scale rule `{rule_name}`", name, report)


scaler_identity = ResourceValidationPolicy(
    name="servicebus-scaler-identity",
    description=(
        "azure-servicebus scale rules authenticate with an identity no container can use, and name the bare namespace."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set the scale rule's `identity` to the job's scaler identity (lifecycle `None`) and its "
    "`namespace` to the bare namespace name.",
    validate=_scaler_identity,
)


# --- retries, timeout, completion -------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _retry_bounded(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    config = args.get_config()
    idempotent = _tag(props, IDEMPOTENT_TAG)
    bound = int(config.get("maxRetryLimitIdempotent" if idempotent else "maxRetryLimit", 10 if idempotent else 1))
    name = _job_name(props, args.name)
    value = _get(props, "configuration", "replicaRetryLimit")
    retries = _number(value) if known(value) else None
    if not known(value) or (value is not None and retries is None):
        report(f"job `{name}` has a replicaRetryLimit that cannot be verified. Fix: set a number in the stack file.")
    elif retries is not None and retries > bound:
        fix = (
            f"lower replicaRetryLimit to {bound}"
            if idempotent
            else f"lower replicaRetryLimit to {bound}, or mark the job idempotent (`idempotent: true`, tag "
            f"`{IDEMPOTENT_TAG}`) if re-running a replica is safe"
        )
        report(f"job `{name}` retries a replica {int(retries)} times. Fix: {fix}.")


retry_bounded = ResourceValidationPolicy(
    name="job-retry-bounded",
    description="Replica retries stay within a bound; a higher bound only for jobs marked idempotent.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Lower replicaRetryLimit, or mark the job idempotent if re-running a replica is safe.",
    config_schema=PolicyConfigSchema(
        properties={
            "maxRetryLimit": {"type": "integer", "minimum": 0, "default": 1},
            "maxRetryLimitIdempotent": {"type": "integer", "minimum": 0, "default": 10},
        },
    ),
    validate=_retry_bounded,
)


def _timeout_bounded(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    bound = int(args.get_config().get("maxReplicaTimeout", 86400))
    value = _get(props, "configuration", "replicaTimeout")
    timeout = _number(value) if known(value) else None
    name = _job_name(props, args.name)
    if not known(value):
        report(f"job `{name}` has a replicaTimeout that is not known during preview. Fix: set it in the stack file.")
    elif not timeout:
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
    severity=Severity.MEDIUM,
    remediation_steps="Set replicaTimeout within the stack's bound, or split the work into smaller executions.",
    config_schema=PolicyConfigSchema(
        properties={"maxReplicaTimeout": {"type": "integer", "minimum": 1, "default": 86400}},
    ),
    validate=_timeout_bounded,
)


def _partial_completion(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    trigger = _trigger_config(_get(props, "configuration"))
    parallelism = _get(trigger, "parallelism") or 1
    completions = _get(trigger, "replicaCompletionCount") or 1
    name = _job_name(props, args.name)
    if _number(parallelism) is None or _number(completions) is None:
        report(
            f"job `{name}` has a parallelism or replicaCompletionCount that cannot be verified. Fix: set both "
            "as numbers in the stack file."
        )
    elif completions < parallelism and not _tag(props, PARTIAL_COMPLETION_TAG):
        report(
            f"job `{name}` succeeds after {int(completions)} of {int(parallelism)} "
            f"replicas (n-of-m) without the opt-in marker. Fix: set replicaCompletionCount to {int(parallelism)}, "
            f"or `allowPartialCompletion: true` (tag `{PARTIAL_COMPLETION_TAG}`) if the redundancy is deliberate."
        )


partial_completion = ResourceValidationPolicy(
    name="job-partial-completion-opt-in",
    description="n-of-m completion (completion count below parallelism) only with an explicit opt-in marker.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set replicaCompletionCount to parallelism, or opt in with `allowPartialCompletion: true`.",
    validate=_partial_completion,
)


def _schedule_valid(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    if _get(props, "configuration", "triggerType") != "Schedule":
        args.not_applicable("applies to scheduled jobs only")
    name = _job_name(props, args.name)
    expression = _get(props, "configuration", "scheduleTriggerConfig", "cronExpression")
    if not known(expression):
        report(f"job `{name}` has a cron expression that is not known during preview. Fix: write it in the stack file.")
    elif not isinstance(expression, str) or not expression.strip():
        report(f"job `{name}` is scheduled but has no scheduleTriggerConfig.cronExpression. Fix: set one.")
    elif len(fields := expression.split()) != 5 or not all(CRON_FIELD.fullmatch(field) for field in fields):
        report(
            f"job `{name}` has cron expression `{expression}`, not the five standard fields Azure takes "
            "(minute hour day-of-month month day-of-week, evaluated in UTC). Fix: write five fields, e.g. "
            "`0 2 * * *`."
        )


schedule_valid = ResourceValidationPolicy(
    name="job-schedule-valid",
    description="A scheduled job has a five-field cron expression (evaluated by Azure in UTC).",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set scheduledJobs.<job>.cronExpression to five standard cron fields, in UTC.",
    validate=_schedule_valid,
)


# --- Service Bus namespace --------------------------------------------------------------------------------


def _namespace_name(props: Mapping[str, Any], fallback: str) -> str:
    name = props.get("namespaceName") or props.get("name")
    return str(name) if isinstance(name, str) else fallback


def _namespace_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, SB_NAMESPACE)
    if str(_get(props, "minimumTlsVersion") or "") not in ("1.2", "1.3"):
        report(
            f"Service Bus namespace `{_namespace_name(props, args.name)}` accepts TLS below 1.2 (or does not say). "
            "Fix: set minimumTlsVersion to `1.2`."
        )


namespace_tls = ResourceValidationPolicy(
    name="servicebus-minimum-tls",
    description="Service Bus namespaces require TLS 1.2 or later.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set minimumTlsVersion to `1.2`.",
    validate=_namespace_tls,
)


def _namespace_local_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, SB_NAMESPACE)
    if _get(props, "disableLocalAuth") is not True:
        report(
            f"Service Bus namespace `{_namespace_name(props, args.name)}` allows SAS keys (local auth). "
            "Fix: set disableLocalAuth to true; move any job with `auth: connectionString` to `managedIdentity`."
        )


namespace_local_auth = ResourceValidationPolicy(
    name="servicebus-local-auth-disabled",
    description="Service Bus namespaces disable local (SAS) authentication.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set disableLocalAuth to true; use managed identities instead of connection strings.",
    validate=_namespace_local_auth,
)


# --- least privilege (stack) ------------------------------------------------------------------------------
#
# AnalyzeStack receives every resource's OUTPUTS (pulumi/pulumi `pkg/resource/deploy/step_generator.go`
# `AnalyzeResources`), which carry no path parameters (`jobName`, `resourceName`, `resourceGroupName`), and in a
# first preview no ids Azure computes (`principalId`, the identity's `id` and `name`). So grants are tied to
# identities through the resource graph (the property dependency of an assignment's `principalId` on the
# `UserAssignedIdentity`), identities to jobs through known ids: the identity's own `id` output once it exists,
# else the `id` its aca-jobs `JobIdentity` parent registers (composed from config, known in a first preview).


def _identity_of(assignment: PolicyResource, resources: list[PolicyResource]) -> PolicyResource | None:
    """The user-assigned identity a role assignment grants to: by property dependency, else by principal id."""
    for dependency in assignment.property_dependencies.get("principalId", []):
        if dependency.resource_type == IDENTITY:
            return dependency
    principal = _get(plain(assignment.props), "principalId")
    for resource in resources:
        if resource.resource_type == IDENTITY and _same_id(_get(plain(resource.props), "principalId"), principal):
            return resource
    return None


def _identity_id(identity: PolicyResource) -> Any:
    """The identity's ARM id where it is known: its own `id` output, else its JobIdentity parent's."""
    own = _get(plain(identity.props), "id")
    if isinstance(own, str):
        return own
    parent = identity.parent
    if parent is not None and parent.resource_type == JOB_IDENTITY_COMPONENT:
        reported = _get(plain(parent.props), "id")
        if isinstance(reported, str):
            return reported
    return UNKNOWN


def _uses(job: PolicyResource, resource: PolicyResource) -> bool:
    """Whether the job's inputs refer to the resource (the engine's dependency graph)."""
    return resource in job.dependencies or any(
        resource in dependencies for dependencies in job.property_dependencies.values()
    )


def _check_owner_unreachable(
    identity: PolicyResource, identity_id: Any, job: PolicyResource, props: Mapping[str, Any], report: ReportViolation
) -> None:
    """A job that uses a Data Owner identity must list it with lifecycle `None` (unset means `All`)."""
    name = _job_name(props, job.name)
    assigned = _get(props, "identity", "userAssignedIdentities")
    # Inputs list the ids; outputs map them (unknown in a first preview: then the graph says whether it is used).
    ids = list(assigned) if isinstance(assigned, Mapping | list) else []
    in_graph = _uses(job, identity)
    if not known(identity_id):
        if in_graph:
            report(
                f"identity `{identity.name}` holds Service Bus Data Owner and job `{name}` uses it, but its id is "
                "not known during preview, so its lifecycle in the job cannot be verified. Fix: compose the "
                "identity id from config names (as aca-jobs' JobIdentity does).",
                job.urn,
            )
        return
    listed, lifecycle = _lifecycle_of(props, identity_id)
    if listed and lifecycle != "None":
        report(
            f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` lets containers use it "
            f"(lifecycle `{lifecycle}`). Fix: set its lifecycle to `None`; give the code a separate identity with "
            "Data Receiver.",
            job.urn,
        )
    elif not listed and (any(_same_id(i, identity_id) for i in ids) or (not known(assigned) and in_graph)):
        report(
            f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` assigns it without "
            "identitySettings, so every container can use it (default lifecycle `All`). Fix: list it with "
            "lifecycle `None`.",
            job.urn,
        )


def _least_privilege(args: StackValidationArgs, report: ReportViolation) -> None:
    # Each job's props are read once: every Data Owner grant is checked against every job.
    jobs = [(r, plain(r.props)) for r in args.resources if r.resource_type == JOB]
    for assignment in (r for r in args.resources if r.resource_type == ROLE_ASSIGNMENT):
        props = plain(assignment.props)
        role_definition, scope = _get(props, "roleDefinitionId"), _get(props, "scope")
        guid = _role_guid(role_definition) if isinstance(role_definition, str) else None
        if guid in PRIVILEGED_ROLES:
            # At any scope, a known one or not: these roles manage resources or grant access.
            where = f"`{scope}`" if isinstance(scope, str) else "a scope not known during preview"
            report(
                f"role assignment `{assignment.name}` grants {PRIVILEGED_ROLES[guid]} on {where}, a role that "
                "manages resources or grants access. Fix: grant the narrowest data or pull role the job needs "
                "(AcrPull, Service Bus Data Receiver) instead.",
                assignment.urn,
            )
            continue
        if guid is None or not isinstance(scope, str):
            report(
                f"role assignment `{assignment.name}` has a role or scope that is not known during preview, so the "
                "grant cannot be reviewed. Fix: compose roleDefinitionId and scope from names known before "
                "deployment.",
                assignment.urn,
            )
            continue
        if CONTAINER_SCOPE.match(scope):
            report(
                f"role assignment `{assignment.name}` grants on `{scope}`, a whole subscription or resource group. "
                "Fix: scope it to the one resource the job uses (a queue, a container, a secret).",
                assignment.urn,
            )
            continue
        if guid in KEY_VAULT_MANAGING_ROLES:
            report(
                f"role assignment `{assignment.name}` grants {KEY_VAULT_MANAGING_ROLES[guid]} on `{scope}`: it "
                "writes or manages vault contents, which no job needs. Fix: grant Key Vault Secrets User on the "
                "one secret the job reads.",
                assignment.urn,
            )
            continue
        if guid == KV_SECRETS_USER and not SECRET_SCOPE.search(scope):
            report(
                f"role assignment `{assignment.name}` grants Key Vault Secrets User on `{scope}`, which reads every "
                "secret below it. Fix: scope it to one secret (`<vault id>/secrets/<name>`).",
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
        identity_id = _identity_id(identity)
        for job, job_props in jobs:
            _check_owner_unreachable(identity, identity_id, job, job_props, report)


least_privilege = StackValidationPolicy(
    name="least-privilege-role-assignments",
    description=(
        "No grant wider than one resource; Service Bus data roles only at queue scope, Key Vault Secrets User only "
        "at secret scope; Data Owner only for identities no container can use; no Owner, Contributor, User Access "
        "Administrator, Role Based Access Control Administrator or Key Vault managing roles."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Grant the narrowest role at the narrowest scope; keep Data Owner for the scaler identity, "
    "listed with lifecycle `None`.",
    validate=_least_privilege,
)


# --- alerts ---------------------------------------------------------------------------------------------


def _alerts_on_failures_of(rule: PolicyResource, job_name: str) -> bool:
    """Whether an enabled log search alert with an action group counts this job's failure events."""
    props = plain(rule.props)
    if _get(props, "enabled") is False or not _list(_get(props, "actions", "actionGroups")):
        return False
    queries = [_get(condition, "query") for condition in _list(_get(props, "criteria", "allOf"))]
    return any(
        isinstance(query, str) and f'Job == "{job_name}"' in query and all(r in query for r in FAILURE_REASONS)
        for query in queries
    )


def _failure_alerted(args: StackValidationArgs, report: ReportViolation) -> None:
    rules = [r for r in args.resources if r.resource_type == SCHEDULED_QUERY_RULE]
    for job in (r for r in args.resources if r.resource_type == JOB):
        name = _job_name(plain(job.props), job.name)
        if not any(_alerts_on_failures_of(rule, name) for rule in rules):
            report(
                f"job `{name}` has no alert on failed executions: nobody is told when a run fails. Fix: set "
                "`alerts: {emails: [...]}` (or `actionGroupId`) under aca-jobs:platform.",
                job.urn,
            )


failure_alerted = StackValidationPolicy(
    name="job-failure-alerted",
    description=(
        "Every job has an enabled log search alert, with an action group, on its failed executions (the reasons "
        + ", ".join(FAILURE_REASONS)
        + ")."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set `alerts` under aca-jobs:platform (emails or an existing actionGroupId).",
    validate=_failure_alerted,
)


# --- protection, names, tags ------------------------------------------------------------------------------


def _stateful_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    _type_of(args, *STATEFUL_TYPES)
    if not args.get_config().get("requireProtection", False):
        args.not_applicable("this stack does not require protection")
    if not args.opts.protect:
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} `{args.name}` holds data but is not protected in a stack that "
            "requires it. Fix: set `protect: true` under aca-jobs:platform."
        )


stateful_protected = ResourceValidationPolicy(
    name="stateful-resources-protected",
    description="Stateful resources (namespace, queues, workspace, environment) are protected where required.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set `protect: true` under aca-jobs:platform.",
    config_schema=PolicyConfigSchema(
        properties={"requireProtection": {"type": "boolean", "default": False}},
    ),
    validate=_stateful_protected,
)


def _job_name_format(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _get(props, "jobName")
    if not isinstance(name, str) or not JOB_NAME.fullmatch(name) or "--" in name:
        shown = name if isinstance(name, str) else "(not known during preview)"
        report(
            f"job name `{shown}` breaks the Container Apps rules. Fix: use 2-32 lowercase letters, digits and "
            "'-', starting with a letter, ending with a letter or digit, with no '--'."
        )


job_name_format = ResourceValidationPolicy(
    name="job-name-format",
    description="Job names follow the Container Apps naming rules.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.LOW,
    remediation_steps="Rename the job key in the stack file.",
    validate=_job_name_format,
)


def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, *TAGGABLE_TYPES)
    required = list(args.get_config().get("requiredTags", ["owner"]))
    tags = _get(props, "tags")
    if not known(tags):
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} `{args.name}` has tags that are not known during preview. "
            "Fix: set them under aca-jobs:platform.tags."
        )
        return
    missing = [tag for tag in required if not _get(tags, tag)]
    if missing:
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} `{args.name}` lacks required tags {missing}. Fix: add them "
            "under aca-jobs:platform.tags."
        )


required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry the stack's required tags.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.LOW,
    remediation_steps="Add the required tags under aca-jobs:platform.tags.",
    config_schema=PolicyConfigSchema(
        properties={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": ["owner"]}},
    ),
    validate=_required_tags,
)


def _tags_valid(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, *TAGGABLE_TYPES)
    kind = args.resource_type.rsplit(":", 1)[-1]
    tags = _get(props, "tags")
    if not known(tags):
        report(
            f"{kind} `{args.name}` has tags that are not known during preview, so their lengths cannot be verified. "
            "Fix: set them under aca-jobs:platform.tags."
        )
        return
    for tag, value in tags.items() if isinstance(tags, Mapping) else ():
        shown = tag if len(tag) <= 40 else tag[:40] + "..."
        if len(tag) > TAG_NAME_MAX:
            report(
                f"{kind} `{args.name}` has a tag name of {len(tag)} characters (`{shown}`); Azure accepts at most "
                f"{TAG_NAME_MAX}. Fix: shorten it under aca-jobs:platform.tags."
            )
        if not known(value):
            report(
                f"{kind} `{args.name}` tag `{shown}` has a value that is not known during preview, so its length "
                "cannot be verified. Fix: write the value under aca-jobs:platform.tags."
            )
        elif isinstance(value, str) and len(value) > TAG_VALUE_MAX:
            report(
                f"{kind} `{args.name}` tag `{shown}` has a value of {len(value)} characters; Azure accepts at most "
                f"{TAG_VALUE_MAX}. Fix: shorten it under aca-jobs:platform.tags."
            )


tags_valid = ResourceValidationPolicy(
    name="tags-valid",
    description=f"Tag names are at most {TAG_NAME_MAX} characters and tag values at most {TAG_VALUE_MAX}.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.LOW,
    remediation_steps="Shorten the tag under aca-jobs:platform.tags.",
    validate=_tags_valid,
)


POLICIES = [
    job_identity,
    image_pinned,
    image_from_pull_registry,
    secrets_not_plaintext,
    connection_string_fallback,
    scaler_identity,
    retry_bounded,
    timeout_bounded,
    partial_completion,
    schedule_valid,
    namespace_tls,
    namespace_local_auth,
    least_privilege,
    failure_alerted,
    stateful_protected,
    job_name_format,
    required_tags,
    tags_valid,
]
