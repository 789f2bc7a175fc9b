"""The aca-jobs policy pack: the review the seed guides ask for, enforced on every preview.

Each policy is a name, a one-line description, a default enforcement level, config where a threshold is a
choice, and a small `validate` function whose message says what to change. `__main__.py` only wires them.

This module is also imported by the tests; it must not import the program's `components` (the CLI runs the
pack in its own virtualenv). The facts the program and the pack share (ARM ids, built-in roles, clouds, credential
detectors, cron) live once in the dependency-free `aca_facts` package next to this file, which both import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from aca_facts.arm_id import RESOURCE, ArmId, ArmIdError
from aca_facts.clouds import CLOUDS
from aca_facts.credentials import MOVE_TO_KEY_VAULT, SECRET_NAME, credential_in
from aca_facts.cron import CronError, parse_cron
from aca_facts.roles import (
    ACR_PULL,
    CONTAINER_SCOPE_TYPE,
    DATA_PLANE_ROLES_BY_GUID,
    HUB_SCOPE_TYPE,
    KEY_VAULT_MANAGING_ROLES,
    KEY_VAULT_SECRETS_USER,
    MANAGEMENT_ROLES,
    NARROWEST_SCOPE_TYPES,
    QUEUE_SCOPE_TYPE,
    ROLES_THAT_GRANT_ROLES,
    SERVICE_BUS_DATA_OWNER,
    SERVICE_BUS_DATA_ROLES,
    SOURCE_ENTITY_TYPES,
    role_guid_of,
)
from aca_facts.scalers import SCALERS, SERVICE_BUS, Scaler
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
# What the event sources create that holds data: a storage queue (and its poison queue) with its messages, an Event
# Hubs job's checkpoint container (components/event_sources/storage_queue.py, event_hub.py `HOLDS`).
STORAGE_QUEUE = "azure-native:storage:Queue"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
FAILURE_REASONS = ("Failed", "BackoffLimitExceeded", "DeadlineExceeded")
STATEFUL_TYPES = (
    SB_NAMESPACE,
    SB_QUEUE,
    STORAGE_QUEUE,
    BLOB_CONTAINER,
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

JOB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
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
    """The items of a list property, each unknown item as `UNKNOWN`. An unknown LIST reads as one unknown item, so
    loops still see that something is there; a rule that needs to know whether the list is empty, or everything in
    it, checks `known(value)` itself first (an unknown list is "set, value not known", never "non-empty")."""
    if value is UNKNOWN:
        return [UNKNOWN]
    return list(value) if isinstance(value, list) else []


def _items_or_report(value: Any, report: ReportViolation, unknown: str) -> list[Any]:
    """The items of a list property; when the whole list is not known during preview, `unknown` is reported and no
    item is read (an unknown list is "set, value not known", never "non-empty")."""
    if not known(value):
        report(unknown)
        return []
    return _list(value)


def _job_name(props: Mapping[str, Any], fallback: str) -> str:
    name = props.get("jobName") or props.get("name")
    return str(name) if isinstance(name, str) else fallback


def _trigger_config(configuration: Any) -> Any:
    """The block that matches `triggerType` (the one Azure acts on): `{}` when there is none, `UNKNOWN` when the
    trigger type or its block is not known during preview (then which replicas count cannot be told)."""
    trigger = _get(configuration, "triggerType")
    if not known(trigger):
        return UNKNOWN
    key = {"Manual": "manualTriggerConfig", "Event": "eventTriggerConfig", "Schedule": "scheduleTriggerConfig"}.get(
        trigger if isinstance(trigger, str) else ""
    )
    block = _get(configuration, key) if key else None
    if not known(block):
        return UNKNOWN
    return block if isinstance(block, Mapping) else {}


def _containers(props: Mapping[str, Any]) -> Iterator[Any]:
    """Every container of the job, init containers included; an unknown list yields one `UNKNOWN`."""
    for key in ("containers", "initContainers"):
        yield from _list(_get(props, "template", key))


def _scale_rules(props: Mapping[str, Any]) -> list[Any]:
    return _list(_get(props, "configuration", "eventTriggerConfig", "scale", "rules"))


def _fallback_secret_names(props: Mapping[str, Any]) -> tuple[set[str], bool]:
    """The secrets a Service Bus scale rule uses as its connection (the connection-string fallback), and whether one
    cannot be told during preview (a rule, its type, its auth entries or their secret not known)."""
    names: set[str] = set()
    undecided = False
    for rule in _scale_rules(props):
        rule_type = _get(rule, "type")
        if not known(rule) or not known(rule_type):
            undecided = True
            continue
        if rule_type != SERVICE_BUS.type:
            continue
        for auth in _list(_get(rule, "auth")):
            parameter, secret = _get(auth, "triggerParameter"), _get(auth, "secretRef")
            if not known(auth) or not known(parameter):
                undecided = True
            elif parameter == SERVICE_BUS.connection_parameter:
                if isinstance(secret, str):
                    names.add(secret)
                elif not known(secret):
                    undecided = True
    return names, undecided


def _tag(props: Mapping[str, Any], tag: str) -> bool:
    return str(_get(props, "tags", tag) or "").lower() == "true"


class _IdentitySettings:
    """A job's identitySettings, read once: the lifecycle of each identity it lists, by parsed id (the first entry
    naming an identity decides; unset means `All`), and whether a preview leaves the list or an entry's identity
    unknown. Read once so that a stack policy asking about many identities parses each entry once (issue 20)."""

    def __init__(self, props: Mapping[str, Any]) -> None:
        settings = _get(props, "configuration", "identitySettings")
        self.known = known(settings)
        self.undecided = False  # an entry's identity is not known
        self.lifecycles: dict[ArmId, Any] = {}
        for setting in _list(settings) if self.known else []:
            entry = _get(setting, "identity")
            if not known(entry):
                self.undecided = True
            elif (parsed := ArmId.try_parse(entry)) is not None and parsed not in self.lifecycles:
                lifecycle = _get(setting, "lifecycle")
                self.lifecycles[parsed] = "All" if lifecycle is None else lifecycle

    def lifecycle(self, identity: ArmId | None) -> tuple[bool | None, Any]:
        """Whether the job lists the identity (parsed id; None for one that does not parse, which no entry names),
        and with which lifecycle. Listed is None when it cannot be told during preview: identitySettings, or the
        identity of an entry, unknown."""
        if not self.known:
            return None, None
        if identity is not None and identity in self.lifecycles:
            return True, self.lifecycles[identity]
        return (None if self.undecided else False), None


def _lifecycle_of(props: Mapping[str, Any], identity_id: Any) -> tuple[bool | None, Any]:
    """Whether the job lists `identity_id` in identitySettings, and with which lifecycle (`_IdentitySettings`)."""
    return _IdentitySettings(props).lifecycle(ArmId.try_parse(identity_id))


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
    if listed is None:
        report(
            f"job `{name}` {what} identity `{identity_id}`: the job's identitySettings are not known during preview, "
            "so it cannot be verified that containers cannot use it. Fix: compose the identity ids in "
            "identitySettings from names known before deployment (as aca-jobs does)."
        )
    elif not listed:
        report(
            f"job `{name}` {what} identity `{identity_id}` is not in identitySettings, so every container can use "
            "it (default lifecycle `All`). Fix: list it with lifecycle `None`."
        )
    elif not known(lifecycle):
        report(
            f"job `{name}` {what} identity `{identity_id}` has a lifecycle that is not known during preview, so it "
            "cannot be verified that containers cannot use it. Fix: set its lifecycle to `None` in the program."
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
    if not known(identity_type) or not known(assigned):
        # Unknown is "set, value not known": it may be `SystemAssigned`, or an empty list.
        report(
            f"job `{name}` has an identity type or user-assigned identity list that is not known during preview, so "
            "it cannot be verified that the job has its own user-assigned identity. Fix: compose the identity ids "
            "from names known before deployment (as aca-jobs does)."
        )
    elif "UserAssigned" not in str(identity_type or "") or not assigned:
        report(
            f"job `{name}` has no user-assigned identity. Fix: assign one identity per job "
            "(identity.type UserAssigned) so its grants stay narrow."
        )
    registries = _items_or_report(
        _get(props, "configuration", "registries"),
        report,
        f"job `{name}` pulls from registries that are not known during preview, so it cannot be verified that "
        "each pulls through an identity no container can use. Fix: write the registries in the stack file.",
    )
    for registry in registries:
        server = _get(registry, "server")
        shown = server if isinstance(server, str) else "(server not known during preview)"
        if not known(registry):
            report(
                f"job `{name}` has a registry entry that is not known during preview, so it cannot be verified that it "
                "pulls through an identity no container can use. Fix: write the registry in the stack file."
            )
        elif _get(registry, "username") or _get(registry, "passwordSecretRef"):
            report(
                f"job `{name}` pulls from `{shown}` with a username/password. Fix: remove them and set the "
                "registry's `identity` to the job's user-assigned identity (granted AcrPull)."
            )
        elif not _get(registry, "identity"):
            report(f"job `{name}` pulls from `{shown}` without an identity. Fix: set the registry's `identity`.")
        else:
            _check_platform_only(props, _get(registry, "identity"), f"registry `{shown}` pull", name, report)
    secrets = _items_or_report(
        _get(props, "configuration", "secrets"),
        report,
        f"job `{name}` has secrets that are not known during preview, so it cannot be verified that Key Vault "
        "secrets are read through an identity no container can use. Fix: write the secrets in the stack file.",
    )
    for secret in secrets:
        if _get(secret, "keyVaultUrl") and _get(secret, "identity"):
            # The platform reads the secret for the job; the code gets it through `secretRef`, never the identity.
            secret_name = _get(secret, "name")
            shown = secret_name if isinstance(secret_name, str) else "(name not known during preview)"
            _check_platform_only(props, _get(secret, "identity"), f"Key Vault secret `{shown}` reading", name, report)


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


def _image_host(image: str) -> str | None:
    """The registry host of an image reference: the part before the first `/`, port included; None for a reference
    without one (Docker Hub)."""
    return image.split("/", 1)[0] if "/" in image else None


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
        host = _image_host(image)
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
    description=(
        "Job images come only from a registry the job pulls from through an identity (the image host is a "
        "`registries[].server` with an identity, compared case-insensitively)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Import the image into the platform registry and reference it by that registry's host.",
    validate=_image_from_pull_registry,
)


# --- secrets ----------------------------------------------------------------------------------------------


def _secrets_not_plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    fallback, fallback_undecided = _fallback_secret_names(props)
    secrets = _items_or_report(
        _get(props, "configuration", "secrets"),
        report,
        f"job `{name}` has secrets that are not known during preview, so it cannot be verified that none holds "
        "its value in the job configuration. Fix: write the secrets in the stack file.",
    )
    for secret in secrets:
        secret_name = _get(secret, "name")
        shown = secret_name if isinstance(secret_name, str) else "(name not known during preview)"
        if _get(secret, "keyVaultUrl"):
            if not _get(secret, "identity"):
                report(
                    f"job `{name}` secret `{shown}` is a Key Vault reference without an identity. "
                    "Fix: set `identity` to a user-assigned identity with Key Vault Secrets User."
                )
        elif not (isinstance(secret_name, str) and secret_name in fallback):
            # A value that is unknown during preview is still a value held in the job configuration; only the
            # scaler's connection string is left to its own (visible) policy.
            report(
                f"job `{name}` secret `{shown}` holds its value in the job configuration. Fix: store it "
                "in Key Vault and reference it (`keyVaultUrl` + `identity`), or use a managed identity instead."
            )
    for key in ("containers", "initContainers"):
        listed = _get(props, "template", key)
        if not known(listed):
            report(
                f"job `{name}` has {key} that are not known during preview, so their env, command and args cannot "
                "be verified to hold no credential. Fix: write the containers in the stack file."
            )
            continue
        for index, container in enumerate(_list(listed)):
            container_name = _get(container, "name")
            where = f"container `{container_name}`" if isinstance(container_name, str) else f"{key}[{index}]"
            env = _get(container, "env")
            if not known(env):
                report(
                    f"job `{name}` {where} has env that is not known during preview, so it cannot be verified to "
                    "hold no credential. Fix: write the env in the stack file."
                )
            for variable in _list(env) if known(env) else []:
                _check_env(variable, (fallback, fallback_undecided), name, report)
            for text_key in ("command", "args"):
                _check_text_list(_get(container, text_key), f"{where} `{text_key}`", name, report)


def _check_text_list(items: Any, where: str, name: str, report: ReportViolation) -> None:
    """A container's `command` or `args`: stored in the job definition as plain text, so no credential in any item."""
    if not known(items):
        report(
            f"job `{name}` {where} is not known during preview, so it cannot be verified to hold no credential. "
            "Fix: write it in the stack file."
        )
        return
    for index, item in enumerate(_list(items)):
        if not known(item):
            report(
                f"job `{name}` {where} item {index} is not known during preview, so it cannot be verified to hold no "
                "credential. Fix: write it in the stack file; pass secrets through env `secretRef` instead."
            )
        elif kind := credential_in(item):
            report(
                f"job `{name}` {where} item {index} holds a credential in plain text ({kind}); anyone who can read "
                f"the job can read it. Fix: {MOVE_TO_KEY_VAULT}."
            )


def _check_env(variable: Any, fallback: tuple[set[str], bool], name: str, report: ReportViolation) -> None:
    """One env entry: no credential as a literal value, no reference to the scaler's connection string."""
    names, undecided = fallback
    if not known(variable):
        report(
            f"job `{name}` has an env entry that is not known during preview, so it cannot be verified to hold no "
            "credential. Fix: write the env in the stack file."
        )
        return
    variable_name, value, secret_ref = _get(variable, "name"), _get(variable, "value"), _get(variable, "secretRef")
    shown = variable_name if isinstance(variable_name, str) else "(name not known during preview)"
    if isinstance(secret_ref, str) and secret_ref in names:
        report(
            f"job `{name}` env `{shown}` reads secret `{secret_ref}`, the Service Bus connection string the scale "
            "rule authenticates with; it hands the code Manage rights on the namespace. Fix: remove the env entry "
            "and let the code use its own identity (Service Bus Data Receiver on the queue, `AZURE_CLIENT_ID`)."
        )
    elif secret_ref and (names or undecided) and (not known(secret_ref) or undecided):
        report(
            f"job `{name}` env `{shown}` reads a secret, and which secret it reads or which secret the Service Bus "
            "scale rule authenticates with is not known during preview, so it cannot be verified that the code "
            "does not get the scaler's connection string. Fix: write the secret names in the stack file."
        )
    if not known(value):
        # A value not known during preview is not a literal from the stack file: it is computed from a resource
        # output (an identity's client id). Its text cannot be checked, but a variable named as a secret holds its
        # value in plain text whatever the value is.
        if not known(variable_name):
            report(
                f"job `{name}` has an env entry whose name and value are not known during preview, so it cannot be "
                "verified not to be a secret. Fix: write the env name in the stack file."
            )
        elif isinstance(variable_name, str) and SECRET_NAME.search(variable_name):
            report(
                f"job `{name}` env `{variable_name}` is named as a secret and holds a value computed during "
                "deployment (not known during preview) in plain text. Fix: move the value to a Key "
                "Vault-referenced secret and use `secretRef`, or use the job's managed identity."
            )
        return
    if not isinstance(value, str):
        return
    if kind := credential_in(value):
        report(
            f"job `{name}` env `{shown}` holds a credential in plain text ({kind}); anyone who can read the job can "
            f"read it. Fix: {MOVE_TO_KEY_VAULT}."
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
        "No plaintext secret values in job configuration; no credential in any container's env values, command or "
        "args (init containers included); no literal value in secret-named env variables; no env reference to the "
        "scaler's connection string; Key Vault references pass."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Keep secrets in Key Vault (`keyVaultUrl` + `identity`, env `secretRef`) and pass the env "
    "variable to the program instead of the value, or use the job's managed identity.",
    validate=_secrets_not_plaintext,
)


def _connection_string_fallback(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    names, undecided = _fallback_secret_names(props)
    name = _job_name(props, args.name)
    for secret_name in sorted(names):
        report(
            f"job `{name}` scales from a Service Bus connection string (secret "
            f"`{secret_name}`) instead of a managed identity. Fix: set `auth: managedIdentity` on the job, so "
            "the scaler uses its identity with Data Owner on the queue and the namespace can disable local auth."
        )
    if undecided:
        report(
            f"job `{name}` has scale rules whose type or authentication is not known during preview, so it cannot "
            "be verified that the scaler does not use a connection string. Fix: write the scale rules in the stack "
            "file (aca-jobs does)."
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
#
# Every scale rule is read with its source's facts (`aca_facts.scalers.SCALERS`, by rule type), the table the program
# writes the rules from. A rule whose type is not in it is reported, never skipped: Container Apps takes a managed
# identity on a job scale rule only for the Service Bus, Azure Queue Storage and Event Hubs scalers (maintainer
# comment of 2026-07-24 on microsoft/azure-container-apps issue 1786), so any other scaler reads its source with a
# secret the review has not seen.

SUPPORTED_SCALERS = ", ".join(f"`{rule_type}`" for rule_type in SCALERS)


def _scaler_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    rules = _get(props, "configuration", "eventTriggerConfig", "scale", "rules")
    if not known(rules):
        report(
            f"job `{name}` has scale rules that are not known during preview, so it cannot be verified that they "
            "authenticate with an identity no container can use. Fix: write the scale rules in the stack file."
        )
        return
    for rule in _list(rules):
        rule_type, rule_name = _get(rule, "type"), _get(rule, "name")
        rule_name = rule_name if isinstance(rule_name, str) else "?"
        if not known(rule) or not known(rule_type):
            report(
                f"job `{name}` scale rule `{rule_name}` has a type that is not known during preview, so it cannot be "
                "verified which source it reads and how it authenticates. Fix: write the rule type in the stack file."
            )
            continue
        scaler = SCALERS.get(rule_type) if isinstance(rule_type, str) else None
        if scaler is None:
            report(
                f"job `{name}` scale rule `{rule_name}` has type `{rule_type}`, which is not an event source this "
                f"review knows ({SUPPORTED_SCALERS}): Container Apps takes a managed identity on a job scale rule only "
                "for those (on any other scaler an identity wipes the rule's metadata), so how this rule reads its "
                "source cannot be reviewed. Fix: use an aca-jobs event source (`queue`, `storageQueue` or `eventHub` "
                "under aca-jobs:eventJobs)."
            )
            continue
        _check_scale_rule(props, name, rule, rule_name, scaler, report)


def _check_scale_rule(
    props: Mapping[str, Any], name: str, rule: Any, rule_name: str, scaler: Scaler, report: ReportViolation
) -> None:
    """One rule of a known source: its identity (or, for Service Bus only, the visible fallback) and its host."""
    where = f"job `{name}` scale rule `{rule_name}` (`{scaler.type}`)"
    identity, auth = _get(rule, "identity"), _get(rule, "auth")
    if not scaler.connection_fallback:
        # The program never writes `auth` on these rules: a connection string here is not the opt-in fallback
        # (Service Bus only, reported by `job-connection-string-fallback`), it is a credential nobody chose.
        if not known(auth) or any(not known(entry) for entry in _list(auth)):
            report(
                f"{where} has authentication (`auth`) that is not known during preview, so it cannot be verified that "
                f"it reads {scaler.source} without a connection string. Fix: write the scale rule in the stack file."
            )
        elif _list(auth):
            report(
                f"{where} authenticates with a secret (`auth`); {scaler.source} scale rules always use the job's "
                "scaler identity: aca-jobs has no connection-string fallback for them (it would need shared keys "
                "or SAS keys enabled on the source, and a secret in the job). Fix: remove `auth` and set the rule's "
                "`identity` to the job's scaler identity (listed with lifecycle `None`)."
            )
    if not identity and not (scaler.connection_fallback and auth):
        report(
            f"{where} has no identity. Fix: set the rule's `identity` to the job's scaler identity (a user-assigned "
            "identity listed with lifecycle `None`, holding its read role at the one entity)."
        )
    if not identity:
        return
    host = _get(rule, "metadata", scaler.host_metadata_key)
    if not isinstance(host, str):
        report(
            f"{where} has a `{scaler.host_metadata_key}` that is not known during preview, so it cannot be verified "
            f"to be the bare name. Fix: write the name in the stack file."
        )
    elif "." in host:
        bare = host.split(".", 1)[0]
        report(
            f"{where} has {scaler.host_metadata_key} `{host}`; with an identity KEDA appends the cloud's suffix "
            f"itself and would read a host that does not exist. Fix: use the bare name `{bare}`."
        )
    if isinstance(identity, str) and identity.lower() == "system":
        # Container Apps' spelling of the system-assigned identity: its principal exists only once the job does,
        # so no grant can be in place before the scaler first reads (nor tied to it in a first preview).
        report(
            f"{where} authenticates with the job's system-assigned identity. Fix: set `identity` to a user-assigned "
            "scaler identity listed with lifecycle `None` in identitySettings (aca-jobs creates one per job)."
        )
    else:
        # The scaler's identity holds the source's read role (Service Bus: Data Owner): only the platform may use it.
        _check_platform_only(props, identity, f"scale rule `{rule_name}`", name, report)


scaler_identity = ResourceValidationPolicy(
    name="scale-rule-identity",
    description=(
        "Every scale rule reads an event source aca-jobs knows ("
        + ", ".join(SCALERS)
        + ") with a user-assigned identity that the job lists with lifecycle `None`, naming the bare host; only "
        "azure-servicebus rules may use the visible connection-string fallback instead."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set each scale rule's `identity` to the job's scaler identity (lifecycle `None`), remove "
    "`auth` from azure-queue and azure-eventhub rules, and write the host metadata as the bare name.",
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
    name = _job_name(props, args.name)
    if not known(trigger):
        report(
            f"job `{name}` has a trigger type or trigger block that is not known during preview, so its parallelism "
            "and replicaCompletionCount cannot be verified. Fix: set both in the stack file."
        )
        return
    parallelism = _get(trigger, "parallelism") or 1
    completions = _get(trigger, "replicaCompletionCount") or 1
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
    trigger = _get(props, "configuration", "triggerType")
    name = _job_name(props, args.name)
    if not known(trigger):
        # "Set, value not known": it may be `Schedule`.
        report(
            f"job `{name}` has a trigger type that is not known during preview, so it cannot be verified whether it "
            "runs on a valid schedule. Fix: set the trigger type in the program (aca-jobs does)."
        )
        return
    if trigger != "Schedule":
        args.not_applicable("applies to scheduled jobs only")
    expression = _get(props, "configuration", "scheduleTriggerConfig", "cronExpression")
    if not known(expression):
        report(f"job `{name}` has a cron expression that is not known during preview. Fix: write it in the stack file.")
        return
    if not isinstance(expression, str) or not expression.strip():
        report(f"job `{name}` is scheduled but has no scheduleTriggerConfig.cronExpression. Fix: set one.")
        return
    try:
        # The program's own parser (aca_facts.cron): ranges, steps, names and lists, as the config checks them.
        parse_cron(expression)
    except CronError as error:
        report(f"job `{name}` has cron expression `{_shown(expression)}`: {error.problem}. Fix: {error.fix}.")


def _shown(text: str) -> str:
    """`text` for a message, cut when it is long (a cron field of thousands of digits)."""
    return text if len(text) <= 60 else f"{text[:40]}...({len(text)} characters)"


schedule_valid = ResourceValidationPolicy(
    name="job-schedule-valid",
    description=(
        "A scheduled job's cron expression is valid standard cron as Azure evaluates it (five fields, in UTC): "
        "ranges, steps, names and lists checked as the stack config checks them."
    ),
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
# Scopes are read as parsed ARM ids (`aca_facts.arm_id`), never matched as text.

# Roles flagged at any scope, known or not: those that can grant roles (a holder can grant itself Owner), and those
# that manage the resources themselves.
FLAGGED_AT_ANY_SCOPE: dict[str, str] = {**ROLES_THAT_GRANT_ROLES, **MANAGEMENT_ROLES}
# Beyond "one resource": the resource types a role may be granted at. The data-plane roles' narrowest types are
# shared with the config (aca_facts.roles); AcrPull (not a data-plane role the config lets `azureAccess` grant) is
# granted on a container registry only, the resource it pulls from.
REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
ALLOWED_SCOPE_TYPES: dict[str, tuple[str, ...]] = {**NARROWEST_SCOPE_TYPES, ACR_PULL.guid: (REGISTRY_TYPE,)}
_WHOLE = {
    "tenant": "the whole tenant",
    "managementGroup": "a whole management group",
    "subscription": "a whole subscription",
    "resourceGroup": "a whole resource group",
}


class _Identities:
    """The stack's user-assigned identities, read once per review: which one a role assignment grants to, and each
    one's ARM id. Each identity's outputs are read (`plain`) at most once, and a grant that names its principal
    without a dependency on the identity is looked up by principal id instead of scanning the stack (issue 20)."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self._resources = resources
        self._props: dict[PolicyResource, Mapping[str, Any]] = {}  # keyed by the object, as the graph refers to it
        self._ids: dict[PolicyResource, Any] = {}
        self._by_principal: dict[str, PolicyResource] | None = None  # read on the first grant without a dependency

    def _props_of(self, resource: PolicyResource) -> Mapping[str, Any]:
        if resource not in self._props:
            self._props[resource] = plain(resource.props)
        return self._props[resource]

    def of(self, assignment: PolicyResource, props: Mapping[str, Any]) -> PolicyResource | None:
        """The user-assigned identity a role assignment (`props`: its outputs) grants to: by property dependency,
        else by principal id (GUIDs, compared case-insensitively; the first identity of the stack holding it)."""
        for dependency in assignment.property_dependencies.get("principalId", []):
            if dependency.resource_type == IDENTITY:
                return dependency
        principal = _get(props, "principalId")
        if not isinstance(principal, str):
            return None
        if self._by_principal is None:
            self._by_principal = {}
            for resource in self._resources:
                if resource.resource_type == IDENTITY:
                    own = _get(self._props_of(resource), "principalId")
                    if isinstance(own, str):
                        self._by_principal.setdefault(own.lower(), resource)
        return self._by_principal.get(principal.lower())

    def id_of(self, identity: PolicyResource) -> Any:
        """The identity's ARM id where it is known: its own `id` output, else its JobIdentity parent's."""
        if identity not in self._ids:
            self._ids[identity] = self._read_id(identity)
        return self._ids[identity]

    def _read_id(self, identity: PolicyResource) -> Any:
        own = _get(self._props_of(identity), "id")
        if isinstance(own, str):
            return own
        parent = identity.parent
        if parent is not None and parent.resource_type == JOB_IDENTITY_COMPONENT:
            reported = _get(plain(parent.props), "id")
            if isinstance(reported, str):
                return reported
        return UNKNOWN


class _JobIdentities:
    """What one job says about the identities it uses, read once per review: the ids it assigns (parsed), whether
    that list or an id in it is not known, its identitySettings."""

    def __init__(self, job: PolicyResource, props: Mapping[str, Any]) -> None:
        self.job = job
        self.name = _job_name(props, job.name)
        # Inputs list the ids; outputs map them (unknown in a first preview: then the graph says whether it is used).
        assigned = _get(props, "identity", "userAssignedIdentities")
        ids = list(assigned) if isinstance(assigned, Mapping | list) else []
        self.assigned = {parsed for i in ids if (parsed := ArmId.try_parse(i)) is not None}
        self.assigned_undecided = not known(assigned) or any(not known(i) for i in ids)
        self.settings = _IdentitySettings(props)


class _OwnerReach:
    """Which jobs may reach an identity, indexed once per review so that each Data Owner grant looks only at those
    jobs instead of every job of the stack (issue 20).

    A job may reach an identity when it assigns it by id, lists it in identitySettings by id, or its inputs depend on
    it (the engine's dependency graph). For any other job `_check_owner_unreachable` reports nothing: a job that
    neither names the identity nor depends on it does not assign it (an unknown identity list counts only with the
    graph), and is not listed with a lifecycle, so whether its own lists are known cannot matter."""

    def __init__(self, jobs: Sequence[tuple[PolicyResource, Mapping[str, Any]]]) -> None:
        self.jobs = [_JobIdentities(job, props) for job, props in jobs]
        self._naming: dict[ArmId, set[int]] = {}  # identity id -> the jobs assigning it or listing it
        self._using: dict[PolicyResource, set[int]] = {}  # identity -> the jobs whose inputs depend on it
        for index, facts in enumerate(self.jobs):
            for parsed in facts.assigned | facts.settings.lifecycles.keys():
                self._naming.setdefault(parsed, set()).add(index)
            job = facts.job
            for dependency in [*job.dependencies, *(d for ds in job.property_dependencies.values() for d in ds)]:
                if dependency.resource_type == IDENTITY:
                    self._using.setdefault(dependency, set()).add(index)

    def reaching(self, identity: PolicyResource, parsed: ArmId | None) -> list[tuple[_JobIdentities, bool]]:
        """The jobs that may reach `identity` (`parsed`: its id, None when not known or not an id), in stack order
        (the order the reports are made in), each with whether its graph uses the identity."""
        using = self._using.get(identity, set())
        naming = self._naming.get(parsed, set()) if parsed is not None else set()
        return [(self.jobs[index], index in using) for index in sorted(using | naming)]


def _check_owner_unreachable(
    identity: PolicyResource,
    identity_id: Any,
    parsed: ArmId | None,
    job: _JobIdentities,
    in_graph: bool,
    report: ReportViolation,
) -> None:
    """A job that uses a Data Owner identity (`parsed`: its id) must list it with lifecycle `None` (unset means
    `All`). `in_graph`: the job's inputs depend on the identity."""
    name = job.name
    if not known(identity_id):
        if in_graph:
            report(
                f"identity `{identity.name}` holds Service Bus Data Owner and job `{name}` uses it, but its id is "
                "not known during preview, so its lifecycle in the job cannot be verified. Fix: compose the "
                "identity id from config names (as aca-jobs' JobIdentity does).",
                job.job.urn,
            )
        return
    # Assigned: listed by id, or (the list or an item of it not known) used according to the graph.
    assigns = (parsed is not None and parsed in job.assigned) or (in_graph and job.assigned_undecided)
    listed, lifecycle = job.settings.lifecycle(parsed)
    if listed is None and (assigns or in_graph):
        report(
            f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` uses it with identitySettings "
            "that are not known during preview, so it cannot be verified that no container can use it. Fix: compose "
            "the identity ids in identitySettings from config names (as aca-jobs does).",
            job.job.urn,
        )
    elif listed and lifecycle != "None":
        shown = lifecycle if known(lifecycle) else "not known during preview"
        report(
            f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` lets containers use it "
            f"(lifecycle `{shown}`). Fix: set its lifecycle to `None`; give the code a separate identity with "
            "Data Receiver.",
            job.job.urn,
        )
    elif listed is False and assigns:
        report(
            f"identity `{identity.name}` holds Service Bus Data Owner, and job `{name}` assigns it without "
            "identitySettings, so every container can use it (default lifecycle `All`). Fix: list it with "
            "lifecycle `None`.",
            job.job.urn,
        )


def _scope_problem(guid: str, scope: ArmId) -> str | None:
    """Why a grant of role `guid` at the parsed `scope` is wider than least privilege, or None."""
    if scope.level != RESOURCE:
        return f"{_WHOLE[scope.level]}. Fix: scope it to the one resource the job uses (a queue, a container, a secret)"
    if guid in KEY_VAULT_MANAGING_ROLES:
        return (
            "a role that writes or manages vault contents, which no job needs. Fix: grant Key Vault Secrets User on "
            "the one secret the job reads"
        )
    role = DATA_PLANE_ROLES_BY_GUID.get(guid) or SERVICE_BUS_DATA_ROLES.get(guid)
    if role is not None and role.provider and (scope.namespace or "").lower() != role.provider.lower():
        return (
            f"a `{scope.resource_type}`, not a resource of {role.provider}, the provider {role.display_name} acts on. "
            f"Fix: scope it to the one {role.provider} resource the job uses"
        )
    allowed = ALLOWED_SCOPE_TYPES.get(guid)
    if allowed and not any(scope.is_type(kind) for kind in allowed):
        if guid == KEY_VAULT_SECRETS_USER.guid:
            return (
                f"a `{scope.resource_type}`: it reads every secret below it; only one secret "
                "(`Microsoft.KeyVault/vaults/secrets`) is allowed. Fix: scope it to one secret "
                "(`<vault id>/secrets/<name>`)"
            )
        if guid in SERVICE_BUS_DATA_ROLES:
            return f"a `{scope.resource_type}`, wider than one queue or topic. Fix: scope it to the queue's resource id"
        return f"a `{scope.resource_type}`, not one of {', '.join(f'`{k}`' for k in allowed)}. Fix: scope it there"
    return None


def _role_name(guid: str) -> str:
    role = DATA_PLANE_ROLES_BY_GUID.get(guid) or SERVICE_BUS_DATA_ROLES.get(guid)
    if role is not None:
        return role.display_name
    if guid == ACR_PULL.guid:
        return ACR_PULL.display_name
    return FLAGGED_AT_ANY_SCOPE.get(guid) or KEY_VAULT_MANAGING_ROLES.get(guid) or f"role `{guid}`"


# An event source's data roles (`SOURCE_ENTITY_TYPES`: the Storage queue and blob roles, the Event Hubs roles) granted
# to an identity only the platform uses (a scale rule's identity, or one a job lists with lifecycle `None`) must be
# scoped to exactly the one entity: the queue, the checkpoint container, the hub; never the account or namespace
# above it, which would let the scaler read every queue, container or hub there.
#
# The code's identity (lifecycle `Main`) is not held to that here, by choice: `azureAccess` may grant it a data role on
# any one resource of the role's provider, a storage account or an Event Hubs namespace included
# (components/config.py `AzureAccessGrant`), and the pack cannot tell such a grant from the source grants the program
# makes to the same identity (both are role assignments to it). So for the code's identity this policy keeps the
# rules above (one resource, of the role's provider, never a resource group, subscription or management group), and
# the program's own source grants at the entity are shown on the registered resources (tests/test_event_sources.py).
_ENTITY_FORMS = {
    QUEUE_SCOPE_TYPE: "the one queue (`<account id>/queueServices/default/queues/<queue>`)",
    CONTAINER_SCOPE_TYPE: "the one container (`<account id>/blobServices/default/containers/<container>`)",
    HUB_SCOPE_TYPE: "the one event hub (`<namespace id>/eventhubs/<hub>`)",
}


class _PlatformIdentities:
    """The identities of the stack that only the platform uses, by parsed id, with why (read once per review): a
    job's scale rule authenticates with it, or a job lists it with lifecycle `None`. `unknown` names what a preview
    leaves unknown that could make an identity one of them."""

    def __init__(self, jobs: list[tuple[PolicyResource, Mapping[str, Any]]], identities: _Identities) -> None:
        self._identities = identities
        self.why: dict[ArmId, str] = {}
        self.unknown: dict[str, set[str]] = {}  # job name -> what of it is not known
        for job, props in jobs:
            name = _job_name(props, job.name)
            settings = _get(props, "configuration", "identitySettings")
            for setting in _list(settings):
                entry, lifecycle = _get(setting, "identity"), _get(setting, "lifecycle")
                if not known(setting) or not known(entry) or not known(lifecycle):
                    self.unknown.setdefault(name, set()).add("identitySettings")
                elif lifecycle == "None":
                    self._add(entry, f"job `{name}` lists it with lifecycle `None`")
            # A job of another trigger type reads no scale rule (Azure acts on the block `triggerType` names), so
            # what a first preview leaves unknown in its event block cannot make an identity a scaler's.
            trigger = _get(props, "configuration", "triggerType")
            event = not known(trigger) or trigger == "Event"
            for rule in _list(_get(props, "configuration", "eventTriggerConfig", "scale", "rules")):
                identity, rule_name = _get(rule, "identity"), _get(rule, "name")
                if not known(rule) or not known(identity):
                    if event:
                        self.unknown.setdefault(name, set()).add("scale rules")
                elif isinstance(identity, str):
                    self._add(identity, f"job `{name}` scale rule `{rule_name}` authenticates with it")
        # Written once: every wide grant of the review names the same jobs.
        self._unknown_text = "; ".join(
            f"the {' and '.join(sorted(parts))} of job `{job}`" for job, parts in sorted(self.unknown.items())
        )

    def _add(self, identity_id: str, why: str) -> None:
        parsed = ArmId.try_parse(identity_id)
        if parsed is not None:
            self.why.setdefault(parsed, why)

    def problem(self, identity: PolicyResource | None) -> tuple[bool, str]:
        """(True, why) for an identity only the platform uses; (False, "") for one a container may use; (True, what
        is not known) when it cannot be told, so a wide grant is reported rather than passed."""
        if identity is None:
            return True, "to a principal that is not a user-assigned identity of this stack, which may be a scaler's"
        parsed = ArmId.try_parse(self._identities.id_of(identity))
        if parsed is None:
            return True, (
                f"to identity `{identity.name}`, whose id is not known during preview, so it cannot be verified that "
                "no scale rule uses it"
            )
        if parsed in self.why:
            return True, f"to identity `{identity.name}`, which only the platform uses ({self.why[parsed]})"
        if self.unknown:
            return True, (
                f"to identity `{identity.name}`, and {self._unknown_text} are not known during preview, so it cannot "
                "be verified that only the job's code uses it"
            )
        return False, ""


def _check_source_entity(
    assignment: PolicyResource,
    props: Mapping[str, Any],
    guid: str,
    scope: ArmId,
    identities: _Identities,
    platform: _PlatformIdentities,
    report: ReportViolation,
) -> None:
    """A source data role at a scope wider than its one entity: a violation when the grantee is (or may be) an
    identity only the platform uses."""
    entity = SOURCE_ENTITY_TYPES[guid]
    if scope.is_type(entity):
        return
    flagged, why = platform.problem(identities.of(assignment, props))
    if flagged:
        report(
            f"role assignment `{assignment.name}` grants {_role_name(guid)} on `{scope}`, a `{scope.resource_type}`, "
            f"{why}: a scaler reads one entity, and this scope reaches every one below it. Fix: scope it to "
            f"{_ENTITY_FORMS[entity]}.",
            assignment.urn,
        )


def _least_privilege(args: StackValidationArgs, report: ReportViolation) -> None:
    # Each resource is read once, and each grant looks only at the jobs and identities it concerns (issue 20: a
    # scan of every job for every Data Owner grant made a 300-job review quadratic).
    jobs = [(r, plain(r.props)) for r in args.resources if r.resource_type == JOB]
    identities = _Identities(args.resources)
    platform: _PlatformIdentities | None = None  # read on the first source grant
    reach: _OwnerReach | None = None  # read on the first Data Owner grant
    for assignment in (r for r in args.resources if r.resource_type == ROLE_ASSIGNMENT):
        props = plain(assignment.props)
        role_definition, scope_text = _get(props, "roleDefinitionId"), _get(props, "scope")
        where = f"`{scope_text}`" if isinstance(scope_text, str) else "a scope not known during preview"
        guid = role_guid_of(role_definition)
        if isinstance(role_definition, str) and guid is None:
            report(
                f"role assignment `{assignment.name}` grants `{role_definition}` on {where}, which is not a role "
                "definition id (`/subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<guid>`), so "
                "the grant cannot be reviewed. Fix: use the built-in role's definition id.",
                assignment.urn,
            )
            continue
        if guid in FLAGGED_AT_ANY_SCOPE:
            # At any scope, a known one or not: these roles grant roles or manage the resources themselves.
            report(
                f"role assignment `{assignment.name}` grants {FLAGGED_AT_ANY_SCOPE[guid]} on {where}, a role that "
                "grants access or manages resources. Fix: grant the narrowest data or pull role the job needs "
                "(AcrPull, Service Bus Data Receiver, Key Vault Secrets User on one secret) instead.",
                assignment.urn,
            )
            continue
        if guid is None or not isinstance(scope_text, str):
            report(
                f"role assignment `{assignment.name}` has a role or scope that is not known during preview, so the "
                "grant cannot be reviewed. Fix: compose roleDefinitionId and scope from names known before "
                "deployment.",
                assignment.urn,
            )
            continue
        try:
            scope = ArmId.parse(scope_text)
        except ArmIdError as error:
            report(
                f"role assignment `{assignment.name}` grants {_role_name(guid)} on `{scope_text}`, which is not an "
                f"ARM id Azure would produce: {error.reason}. Its scope cannot be reviewed (a `..` or empty segment "
                "can name a wider scope). Fix: write the resource's id exactly as Azure shows it "
                "(`az resource show --query id`).",
                assignment.urn,
            )
            continue
        problem = _scope_problem(guid, scope)
        if problem is not None:
            report(
                f"role assignment `{assignment.name}` grants {_role_name(guid)} on `{scope}`, {problem}.",
                assignment.urn,
            )
            continue
        if guid in SOURCE_ENTITY_TYPES:
            platform = platform or _PlatformIdentities(jobs, identities)
            _check_source_entity(assignment, props, guid, scope, identities, platform, report)
            continue
        if guid != SERVICE_BUS_DATA_OWNER.guid:
            continue
        identity = identities.of(assignment, props)
        if identity is None:
            report(
                f"role assignment `{assignment.name}` grants Service Bus Data Owner to a principal that is not a "
                "user-assigned identity of this stack. Fix: grant it only to a job's scaler identity.",
                assignment.urn,
            )
            continue
        identity_id = identities.id_of(identity)
        parsed = ArmId.try_parse(identity_id)
        reach = reach or _OwnerReach(jobs)
        for job, in_graph in reach.reaching(identity, parsed):
            _check_owner_unreachable(identity, identity_id, parsed, job, in_graph, report)


least_privilege = StackValidationPolicy(
    name="least-privilege-role-assignments",
    description=(
        "Every scope is a parsed ARM id of one resource (never a management group, subscription or resource group); "
        "data-plane roles only on a resource of their own provider, Service Bus data roles only on one queue or "
        "topic, Key Vault Secrets User only on one secret, AcrPull only on a registry; Storage queue and blob roles "
        "and Event Hubs data roles, granted to an identity only the platform uses (a scale rule's, or one listed "
        "with lifecycle `None`), only on one queue, container or event hub; Data Owner only for identities no "
        "container can use; at any scope, no role that can grant roles ("
        + ", ".join(ROLES_THAT_GRANT_ROLES.values())
        + "), no "
        + ", ".join(MANAGEMENT_ROLES.values())
        + " and no Key Vault managing role."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Grant the narrowest role at the narrowest scope, written as Azure shows the id; keep Data Owner "
    "for the scaler identity, listed with lifecycle `None`.",
    validate=_least_privilege,
)


# --- registries pulled from: the registry the pull identity holds AcrPull on (stack) --------------------------
#
# `job-image-from-pull-registry` ties every image host to a `registries[].server` the job pulls from through an
# identity (on the inputs, where every container is known). This policy ties that server to the registry the
# identity may pull from: the login server of the registry its AcrPull grant is scoped to. Together an image comes
# from the registry the review granted, and an image moved to another registry together with `registries[].server`
# fails here. (The image itself is not read here: in a first preview azure-native answers every output it does
# not copy from the inputs as unknown, `initContainers` included, so only the inputs say which images a job runs.)


def _login_servers(registry_name: str) -> set[str]:
    """The login servers of a container registry named `registry_name`: the name lower-cased plus the registry
    suffix of a cloud (aca_facts.clouds). The pack is not told the stack's cloud (`azure-native:environment` is
    provider config, not a property of a resource it reviews, and the offline review sends no provider), so each
    cloud's suffix is accepted: the registry's NAME must still be the one the pull identity holds AcrPull on."""
    return {registry_name.lower() + cloud.registry_suffix for cloud in CLOUDS.values()}


class _PullGrants:
    """Every AcrPull grant of the stack, by the identity it is granted to (read once per review)."""

    def __init__(self, resources: list[PolicyResource]) -> None:
        stack_identities = _Identities(resources)
        self.identities: dict[ArmId, PolicyResource] = {}
        for resource in resources:
            if resource.resource_type == IDENTITY:
                parsed = ArmId.try_parse(stack_identities.id_of(resource))
                if parsed is not None:
                    self.identities[parsed] = resource
        self.registries: dict[str, set[str]] = {}  # identity URN -> names of the registries it may pull from
        self.undecided: dict[str, list[str]] = {}  # identity URN -> its grants whose role or scope is not known
        self.untied: list[str] = []  # AcrPull grants whose principal cannot be tied to an identity of the stack
        for assignment in resources:
            if assignment.resource_type != ROLE_ASSIGNMENT:
                continue
            props = plain(assignment.props)
            role_definition = _get(props, "roleDefinitionId")
            if known(role_definition) and role_guid_of(role_definition) != ACR_PULL.guid:
                continue
            identity = stack_identities.of(assignment, props)
            if identity is None:
                if known(role_definition):
                    self.untied.append(assignment.name)
                continue  # a role not known during preview: least-privilege-role-assignments reports it
            scope = ArmId.try_parse(_get(props, "scope"))
            if not known(role_definition) or scope is None:
                self.undecided.setdefault(identity.urn, []).append(assignment.name)
            elif scope.is_type(REGISTRY_TYPE) and scope.name:
                self.registries.setdefault(identity.urn, set()).add(scope.name.lower())

    def problem(self, server: str, identity_id: str) -> str | None:
        """Why pulling from `server` through the identity `identity_id` is not proven to be granted, or None."""
        parsed = ArmId.try_parse(identity_id)
        identity = self.identities.get(parsed) if parsed is not None else None
        if identity is None:
            return (
                f"through `{identity_id}`, which is not a user-assigned identity of this stack, so its AcrPull "
                "grants cannot be reviewed"
            )
        names = self.registries.get(identity.urn, set())
        if any(server.lower() in _login_servers(name) for name in names):
            return None
        pulls = ", ".join(f"`{name}`" for name in sorted(names)) or "no registry"
        undecided = self.undecided.get(identity.urn, []) + self.untied
        unknown = (
            f" (the role, scope or principal of {', '.join(f'`{a}`' for a in undecided)} is not known during preview)"
            if undecided
            else ""
        )
        return (
            f"through identity `{identity.name}`, which holds AcrPull on {pulls}{unknown}, not on the registry whose "
            f"login server is `{server}`"
        )


def _registry_pull_granted(args: StackValidationArgs, report: ReportViolation) -> None:
    grants = _PullGrants(list(args.resources))
    for job in (r for r in args.resources if r.resource_type == JOB):
        props = plain(job.props)
        name = _job_name(props, job.name)
        registries = _get(props, "configuration", "registries")
        if not known(registries):
            report(
                f"job `{name}` pulls from registries that are not known during preview, so it cannot be verified that "
                "its pull identity holds AcrPull on them. Fix: write the registry in the stack file.",
                job.urn,
            )
            continue
        for registry in _list(registries):
            server, identity_id = _get(registry, "server"), _get(registry, "identity")
            if identity_id is None and known(registry):
                continue  # no pull through an identity: job-user-assigned-identity reports it
            shown = server if isinstance(server, str) else "(server not known during preview)"
            if not isinstance(server, str) or not isinstance(identity_id, str):
                problem = (
                    "and its server or pull identity is not known during preview, so it cannot be verified that the "
                    "identity holds AcrPull on that registry"
                )
            else:
                problem = grants.problem(server, identity_id)
            if problem is not None:
                report(
                    f"job `{name}` pulls from `{shown}` {problem}. Fix: pull only from the registry the job's pull "
                    "identity holds AcrPull on (aca-jobs:platform.registry: `server` must be the login server of "
                    "`resourceId`), and import images there (`az acr import`).",
                    job.urn,
                )


def _computed_env_from_identities(args: StackValidationArgs, report: ReportViolation) -> None:
    # In a first preview an env value computed from another resource's output is unknown, so its text cannot be
    # checked for a credential (`job-secrets-not-plaintext` passes it). Where it comes from can be: the engine records
    # which resources the job's `template` depends on. The program computes only identity client ids into env; a key
    # or connection string read from any other resource (a storage account's keys, say) would be stored in the job
    # definition in plain text. So an unknown env value is accepted only when everything `template` depends on is a
    # user-assigned identity, whose outputs are ids.
    for job in (r for r in args.resources if r.resource_type == JOB):
        props = plain(job.props)
        computed = sorted(
            str(_get(variable, "name")) if isinstance(_get(variable, "name"), str) else "(name not known)"
            for container in _containers(props)
            if isinstance(container, Mapping)
            for variable in _list(_get(container, "env"))
            if isinstance(variable, Mapping) and not known(_get(variable, "value"))
        )
        sources = sorted(
            {
                f"{dependency.resource_type.rsplit(':', 1)[-1]} `{dependency.name}`"
                for dependency in job.property_dependencies.get("template", [])
                if dependency.resource_type != IDENTITY
            }
        )
        if computed and sources:
            report(
                f"job `{_job_name(props, job.name)}` env {', '.join(f'`{n}`' for n in computed)} holds values computed "
                f"during deployment, and its template depends on {', '.join(sources)}: such a value is not known "
                "during preview, so it cannot be verified to hold no credential (a key read from another resource "
                f"would be stored in the job in plain text). Fix: {MOVE_TO_KEY_VAULT}.",
                job.urn,
            )


computed_env_from_identities = StackValidationPolicy(
    name="job-computed-env-from-identities",
    description=(
        "A job env value computed during deployment (unknown in a first preview) comes only from user-assigned "
        "identities (their client ids), never from another resource's outputs, which could be a key in plain text."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Read credentials through Key Vault (`secrets` + `secretRef`); compute only identity ids "
    "into env.",
    validate=_computed_env_from_identities,
)


registry_pull_granted = StackValidationPolicy(
    name="job-registry-pull-granted",
    description=(
        "Every registry a job pulls from through an identity is the registry that identity holds AcrPull on: "
        "`registries[].server` is the login server of the AcrPull grant's registry (so an image moved to another "
        "registry together with the server fails)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Pull from the registry the pull identity holds AcrPull on; import images there.",
    validate=_registry_pull_granted,
)


# --- alerts ---------------------------------------------------------------------------------------------

ACTION_GROUP = "azure-native:monitor:ActionGroup"
ACTION_GROUP_TYPE = "Microsoft.Insights/actionGroups"


def _counts_failures_of(props: Mapping[str, Any], job_name: str) -> bool | None:
    """Whether a log search alert's query counts this job's failure events; None when a query is not known."""
    conditions = _get(props, "criteria", "allOf")
    if not known(conditions):
        return None
    queries = [_get(condition, "query") for condition in _list(conditions)]
    if any(
        isinstance(q, str) and f'Job == "{job_name}"' in q and all(r in q for r in FAILURE_REASONS) for q in queries
    ):
        return True
    return None if any(not known(q) for q in queries) else False


def _group_problem(props: Mapping[str, Any], name: str) -> str | None:
    """Why an action group of the stack (`props`: its outputs) is not known to notify anyone: disabled, or no
    receiver."""
    enabled = _get(props, "enabled")
    if enabled is False:
        return f"its action group `{name}` is disabled"
    if not known(enabled):
        return f"whether its action group `{name}` is enabled is not known during preview"
    receivers = [value for key, value in props.items() if key.endswith("Receivers")]
    if any(isinstance(value, list) and value for value in receivers):
        return None
    return f"its action group `{name}` has no receiver known during preview"


def _notify_problem(
    rule: PolicyResource, props: Mapping[str, Any], group_problem: Callable[[PolicyResource], str | None]
) -> str | None:
    """Why an enabled alert rule (`props`: its outputs) is not proven to notify anyone, or None; `group_problem`
    answers for an action group of the stack.

    Proven when an action group id is known and parses as a `Microsoft.Insights/actionGroups` id (an existing group
    from config, or the stack's own), or, where the list is not known during preview (azure-native's preview of a
    create leaves outputs unknown that are not copied from inputs), when the rule's `actions` depend on an action
    group this stack creates (the engine's property dependencies). An unknown list is never read as non-empty."""
    enabled = _get(props, "enabled")
    if enabled is False:
        return "is disabled"
    if not known(enabled):
        return "is not known during preview to be enabled"
    groups = [d for d in rule.property_dependencies.get("actions", []) if d.resource_type == ACTION_GROUP]
    for group in groups:
        if (problem := group_problem(group)) is not None:
            return problem
    ids = _get(props, "actions", "actionGroups")
    if known(ids) and any(
        (parsed := ArmId.try_parse(i)) is not None and parsed.is_type(ACTION_GROUP_TYPE) for i in _list(ids)
    ):
        return None
    if (not known(ids) or any(not known(i) for i in _list(ids))) and groups:
        return None
    if not known(ids) or any(not known(i) for i in _list(ids)):
        return (
            "has action groups that are not known during preview and that do not come from an action group this "
            "stack creates, so it cannot be verified that it notifies anyone"
        )
    if ids:
        shown = ", ".join(f"`{i}`" for i in _list(ids))
        return (
            f"sends to {shown}, which is not an action group id "
            f"(`/subscriptions/<id>/resourceGroups/<group>/providers/{ACTION_GROUP_TYPE}/<name>`)"
        )
    return "has no action group"


# Every `Job == "<name>"` of a query, overlapping ones included (a lookahead consumes nothing): the text up to the
# next `"`. A name holding a `"` is found under the part before its first `"` (`Job == "<that part>"` is in every
# query holding `Job == "<name>"`), and `_counts_failures_of` then decides on the whole name.
_JOB_NAMED = re.compile(r'(?=Job == "([^"]*)")')


class _FailureRules:
    """The stack's log search alert rules, read once per review and indexed by the job names their queries name, so
    that each job reads only the rules that may count its failures instead of every rule (issue 20).

    A rule may count a job's failures when a known query holding every failure reason names the job (`_JOB_NAMED`),
    or when a query, or the list of them, is not known (then the rule is a reason given for every job it does not
    alert). For any other rule `_counts_failures_of` is False: it neither alerts the job nor is a reason."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.rules = [(r, plain(r.props)) for r in resources if r.resource_type == SCHEDULED_QUERY_RULE]
        self._undecided: set[int] = set()
        self._naming: dict[str, set[int]] = {}  # job name (up to a `"`) -> the rules whose queries name it
        for index, (_, props) in enumerate(self.rules):
            conditions = _get(props, "criteria", "allOf")
            queries = [_get(condition, "query") for condition in _list(conditions)] if known(conditions) else []
            if not known(conditions) or any(not known(q) for q in queries):
                self._undecided.add(index)
            for query in queries:
                if isinstance(query, str) and all(reason in query for reason in FAILURE_REASONS):
                    for name in _JOB_NAMED.findall(query):
                        self._naming.setdefault(name, set()).add(index)
        # Each rule and action group is judged once, however many jobs ask.
        self._problems: dict[int, str | None] = {}
        self._groups: dict[PolicyResource, str | None] = {}

    def for_job(self, name: str) -> list[tuple[int, PolicyResource, Mapping[str, Any]]]:
        """The rules that may count the failures of the job named `name`, in stack order (the reasons' order)."""
        indices = self._undecided | self._naming.get(name.split('"', 1)[0], set())
        return [(index, *self.rules[index]) for index in sorted(indices)]

    def notify_problem(self, index: int) -> str | None:
        if index not in self._problems:
            rule, props = self.rules[index]
            self._problems[index] = _notify_problem(rule, props, self._group_problem)
        return self._problems[index]

    def _group_problem(self, group: PolicyResource) -> str | None:
        if group not in self._groups:
            self._groups[group] = _group_problem(plain(group.props), group.name)
        return self._groups[group]


def _failure_alerted(args: StackValidationArgs, report: ReportViolation) -> None:
    rules = _FailureRules(args.resources)
    for job in (r for r in args.resources if r.resource_type == JOB):
        name = _job_name(plain(job.props), job.name)
        reasons = []
        for index, rule, props in rules.for_job(name):
            counts = _counts_failures_of(props, name)
            if counts is None:
                reasons.append(f"rule `{rule.name}` has a query that is not known during preview")
            elif counts:
                problem = rules.notify_problem(index)
                if problem is None:
                    break
                reasons.append(f"rule `{rule.name}` {problem}")
        else:
            detail = f" ({'; '.join(reasons)})" if reasons else ""
            report(
                f"job `{name}` has no alert on failed executions that is known to notify someone{detail}: nobody is "
                "told when a run fails. Fix: set `alerts: {emails: [...]}` (or `actionGroupId`) under "
                "aca-jobs:platform.",
                job.urn,
            )


failure_alerted = StackValidationPolicy(
    name="job-failure-alerted",
    description=(
        "Every job has an enabled log search alert on its failed executions (the reasons "
        + ", ".join(FAILURE_REASONS)
        + ") that is proven to notify someone: a known action group id, or an action group of the stack (enabled, "
        "with a receiver) that the rule's actions depend on."
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
    description=(
        "Stateful resources (Service Bus namespace and queues, storage queues, checkpoint containers, workspace, "
        "environment) are protected where required."
    ),
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


# --- volumes (issue 19) -----------------------------------------------------------------------------------
#
# 2025-02-02-preview `CommonDefinitions.json`: `VolumeMount.volumeName` "must match the Name of a Volume";
# `SecretVolumeItem.secretRef` names a secret of the job; `Volume.secrets` empty: "all secrets in collection will be
# added to volume". Read on the inputs (Analyze), where every container and volume of the job is known.


def _volumes_consistent(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _type_of(args, JOB)
    name = _job_name(props, args.name)
    volumes = _items_or_report(
        _get(props, "template", "volumes"),
        report,
        f"job `{name}` has volumes that are not known during preview, so its mounts and secret files cannot be "
        "verified. Fix: write the volumes in the stack file.",
    )
    # An unknown list is reported above; its mounts are then not read against it.
    volumes_known = known(_get(props, "template", "volumes"))
    names = {_get(v, "name") for v in volumes}
    if any(not isinstance(n, str) for n in names):
        report(f"job `{name}` has a volume whose name is not known during preview. Fix: name it in the stack file.")
    secrets = {_get(s, "name") for s in _list(_get(props, "configuration", "secrets"))}
    secrets_known = known(_get(props, "configuration", "secrets")) and all(isinstance(n, str) for n in secrets)
    for volume in volumes:
        if _get(volume, "storageType") != "Secret":
            continue
        volume_name = _get(volume, "name")
        items = _get(volume, "secrets")
        if not known(items) or not _list(items):
            report(
                f"job `{name}` Secret volume `{volume_name}` lists "
                + (
                    "files that are not known during preview"
                    if not known(items)
                    else "no files, so Azure mounts every secret of the job in it"
                )
                + ". Fix: list each file: a secret of the job and its path."
            )
            continue
        for item in _list(items):
            reference = _get(item, "secretRef")
            if not isinstance(reference, str) or not secrets_known:
                report(
                    f"job `{name}` Secret volume `{volume_name}` writes a secret that is not known during preview, so "
                    "it cannot be verified to be one of the job's secrets. Fix: write it in the stack file."
                )
            elif reference not in secrets:
                report(
                    f"job `{name}` Secret volume `{volume_name}` writes secret `{reference}`, which is not a secret "
                    "of the job. Fix: define it under the job's `secrets`, or fix the name."
                )
    for container in _containers(props):
        mounts = _get(container, "volumeMounts")
        for mount in _list(mounts):
            volume_name = _get(mount, "volumeName")
            if not isinstance(volume_name, str):
                report(
                    f"job `{name}` has a volume mount that is not known during preview. Fix: write it in the stack "
                    "file."
                )
            elif volumes_known and volume_name not in names:
                report(
                    f"job `{name}` container `{_get(container, 'name')}` mounts volume `{volume_name}`, which is not a "
                    "volume of the job. Fix: define it under the job's `volumes`, or fix the name."
                )


volumes_consistent = ResourceValidationPolicy(
    name="job-volumes-consistent",
    description=(
        "Every volume mount of every container (init containers included) names a volume of the job; every Secret "
        "volume lists its files, each a secret of the job (an empty list mounts every secret)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Define the volume or secret under the job, or fix the name; list a Secret volume's files.",
    validate=_volumes_consistent,
)


POLICIES = [
    job_identity,
    image_pinned,
    image_from_pull_registry,
    registry_pull_granted,
    secrets_not_plaintext,
    computed_env_from_identities,
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
    volumes_consistent,
]
