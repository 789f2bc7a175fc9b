"""The stack-config contract: typed models, their defaults and the validation rules of the platform, of the settings
every job shares (`JobSettings`) and across jobs (`StackConfigBase`). Each job kind's and event source's own model
lives beside its component (`ManualJobConfig` in `components/manual_job.py`, `ScheduledJobConfig` in
`components/scheduled_job.py`, `EventJobConfig` in `components/event_sources/service_bus.py`); the table of job
kinds (`components/job_kinds.py`) builds the whole stack's model from them.

These models are the single source of truth for what a stack file may say. Components receive validated
models and never re-validate. Keys are camelCase, exactly as written in `Pulumi.<stack>.yaml`.

A rule that a user can break raises `rule_error(...)`, which carries the problem and the fix in the user's
own terms; `components.stack_config` turns those into messages that name the stack file and the YAML key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from components.naming import DATA_PLANE_ROLES_BY_NAME, KEY_VAULT_SECRETS_USER, BuiltInRole
from components.platform_contract import PlatformContract
from policy.aca_facts.arm_id import RESOURCE, ArmId, ArmIdError
from policy.aca_facts.clouds import CLOUD_KEY, CLOUDS, DEFAULT_CLOUD
from policy.aca_facts.credentials import MOVE_TO_KEY_VAULT, SECRET_NAME, credential_in
from policy.aca_facts.roles import NARROWEST_SCOPE_TYPES, ROLES_THAT_GRANT_ROLES

PROJECT = "aca-jobs"
LOCATION_KEY = "azure-native:location"
# The subscription the provider deploys to: pulumi-azure-native's own key (`pulumi_azure_native/config/vars.py`
# `subscription_id` reads `pulumi.Config('azure-native').get('subscriptionId')`). Required only by `adopt`.
SUBSCRIPTION_KEY = "azure-native:subscriptionId"
PLATFORM_KEY = f"{PROJECT}:platform"
PLATFORM_STACK_KEY = f"{PROJECT}:platformStack"
TEAM_KEY = f"{PROJECT}:team"
# The subscription id the committed stack files carry until a team puts in its own.
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# --- rule errors -----------------------------------------------------------------------------------------

RULE_ERROR = "aca_jobs_rule"


def rule_error(problem: str, fix: str, key: str | None = None) -> PydanticCustomError:
    """A broken rule. `key` names the offending key below the validated object (for cross-field rules)."""
    return PydanticCustomError(RULE_ERROR, "{problem}", {"problem": problem, "fix": fix, "key": key})


def below(where: str, problems: list[PydanticCustomError]) -> list[PydanticCustomError]:
    """`problems` with their keys moved below `where` (e.g. `initContainers.0`); unchanged for ''."""
    if not where:
        return problems
    return [
        rule_error(
            problem.message(),
            problem.context["fix"],
            key=f"{where}.{problem.context['key']}" if problem.context.get("key") else where,
        )
        for problem in problems
    ]


def raise_all(title: str, problems: list[PydanticCustomError]) -> None:
    """Raise every broken rule at once, so that a stack file is fixed in one run: pydantic takes a ValidationError
    raised inside a validator and adds each of its errors at the validated object's location."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationError.from_exception_data(
            title, [InitErrorDetails(type=problem, loc=(), input=None) for problem in problems]
        )


@contextmanager
def collected(problems: list[PydanticCustomError]) -> Iterator[None]:
    """Run a check that raises its broken rules (one, or several at once) and add them to `problems`."""
    try:
        yield
    except PydanticCustomError as problem:
        problems.append(problem)
    except ValidationError as many:
        problems.extend(
            PydanticCustomError(RULE_ERROR, "{problem}", detail["ctx"])
            for detail in many.errors(include_url=False)
            if detail["type"] == RULE_ERROR
        )


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`? Rename it, or remove it"
    return "remove it; allowed keys here: " + ", ".join(f"`{c}`" for c in sorted(choices))


class ConfigModel(BaseModel):
    """Base for every config object: camelCase keys, strict types, unknown keys rejected with a hint."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in known:
                    raise rule_error("unknown key", _did_you_mean(str(key), known), key=str(key))
        return data


# --- names and references --------------------------------------------------------------------------------


def parse_id_of_type(text: str, key: str, resource_type: str, what: str, lookup: str) -> ArmId:
    """`text` parsed as the id of one `resource_type` resource, or a rule error at `key` naming what it is instead
    and the command that prints the right id."""
    namespace, *types = resource_type.split("/")
    example = (
        f"`/subscriptions/<sub>/resourceGroups/<rg>/providers/{namespace}/"
        + "/".join(f"{kind}/<name>" for kind in types)
        + "`"
    )
    parsed = parse_arm_id(text, key, f"{what} id", example)
    if not parsed.is_type(resource_type):
        raise rule_error(
            f"`{text}` is a {parsed.resource_type or parsed.level}, not {what}",
            f"use {example} (`{lookup}`)",
            key=key,
        )
    return parsed


def parse_arm_id(text: str, key: str, what: str, example: str) -> ArmId:
    """`text` parsed as an ARM id (`policy/aca_facts/arm_id.py`), or a rule error at `key` saying why not."""
    try:
        return ArmId.parse(text)
    except ArmIdError as error:
        raise rule_error(f"`{text}` is not {what}: {error.reason}", f"use {example}", key=key) from None


# az CLI / PSRule Azure.ContainerApp.Name: 2-32 chars, lowercase alphanumerics and '-', starts with a letter,
# ends alphanumeric, no '--'.
_JOB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


def check_container_apps_name(name: str) -> str:
    if not _JOB_NAME.fullmatch(name) or "--" in name:
        raise rule_error(
            f"`{name}` is not a valid Container Apps name",
            "use 2-32 lowercase letters, digits and '-', starting with a letter, ending with a letter or "
            "digit, with no '--' (for example `job-orders-backfill`)",
        )
    return name


ContainerAppsName = Annotated[str, AfterValidator(check_container_apps_name)]

# Our rule for the names of volumes, init containers and environment storages: a DNS label, as Kubernetes names
# volumes and containers (the API documents no rule of its own).
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_LABEL_FIX = "use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit"


def check_dns_label_keys(names: Mapping[str, Any]) -> Mapping[str, Any]:
    for name in names:
        if not _DNS_LABEL.fullmatch(name):
            raise rule_error(f"`{name}` is not a valid name here", _DNS_LABEL_FIX, key=name)
    return names


def check_dns_label(name: str) -> str:
    if not _DNS_LABEL.fullmatch(name):
        raise rule_error(f"`{name}` is not a valid name here", _DNS_LABEL_FIX)
    return name


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`registry/repo[:tag][@digest]` -> (repository, tag, digest). A registry port is not a tag."""
    reference, _, digest = image.partition("@")
    last_slash = reference.rfind("/")
    last_colon = reference.rfind(":")
    if last_colon > last_slash:
        return reference[:last_colon], reference[last_colon + 1 :], digest or None
    return reference, None, digest or None


def image_registry(image: str) -> str:
    """The registry host of an image reference: everything before the first '/' (a port included)."""
    return image.split("/", 1)[0] if "/" in image else "docker.io"


def check_image(image: str) -> str:
    repository, tag, digest = split_image(image)
    example = f"`{repository}:v1.0.0` or `{repository}@sha256:<digest>`"
    if not repository or " " in image:
        raise rule_error(f"`{image}` is not an image reference", f"write it as {example}")
    if digest is not None and not _DIGEST.fullmatch(digest):
        raise rule_error(f"`{digest}` is not a sha256 digest", "use `@sha256:` followed by 64 hex digits")
    if tag is not None and not _TAG.fullmatch(tag):
        raise rule_error(f"`{tag}` is not a valid image tag", f"write it as {example}")
    if tag is None and digest is None:
        raise rule_error(
            f"image `{image}` has no tag or digest, so every execution could run different code",
            f"pin it, e.g. {example}",
        )
    if tag == "latest" and digest is None:
        raise rule_error(
            "the `latest` tag moves, so executions (and replays) could run different code",
            f"pin a release tag or a digest, e.g. {example}",
        )
    return image


ImageReference = Annotated[str, AfterValidator(check_image)]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretRef(ConfigModel):
    """An env entry that takes its value from one of the job's `secrets` (never written into the job)."""

    secret_ref: str


def check_env(env: dict[str, Any]) -> dict[str, Any]:
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise rule_error(
                f"`{name}` is not a valid environment variable name",
                "use letters, digits and '_', not starting with a digit",
                key=name,
            )
        if not isinstance(value, str) or not value:
            continue
        found = credential_in(value)
        if found:
            raise rule_error(
                f"env.{name} holds {found} in plain text: it would be stored in the job definition, readable by "
                "anyone who can read the job",
                MOVE_TO_KEY_VAULT,
                key=name,
            )
        if SECRET_NAME.search(name):
            raise rule_error(
                f"env.{name} is named as a secret but holds a literal value: it would be stored in the job definition, "
                "readable by anyone who can read the job (the policy pack refuses it too)",
                MOVE_TO_KEY_VAULT + "; if it is not a secret, rename the variable",
                key=name,
            )
    return env


# `pulumi config set --secret` on a setting: most likely an env value holding a credential.
ENCRYPTED_VALUE_PROBLEM = (
    "is an encrypted value, but aca-jobs never takes a secret's value from config: it would be plain text in the job "
    "definition, readable by anyone who can read the job"
)
ENCRYPTED_VALUE_FIX = (
    "store the secret in the stack's Key Vault, define it under the job's `secrets` "
    "(`<name>: {keyVaultSecretUrl: https://<vault>.vault.azure.net/secrets/<name>}`) and read it with "
    "`{secretRef: <name>}`; or let the code reach Azure through the job's identity (`azureAccess`)"
)


def _env_value(value: Any) -> Any:
    """A plain string stays a plain value; a map must be exactly `{secretRef: <secret name>}`. Decided here, so
    that a mistake gets one message at the env entry's own key (not one per member of the union)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        raise rule_error(ENCRYPTED_VALUE_PROBLEM, ENCRYPTED_VALUE_FIX)
    if isinstance(value, dict) and set(value) == {"secretRef"}:
        if not isinstance(value["secretRef"], str):
            raise rule_error("`secretRef` must name one of the job's secrets", "write the secret's name as text")
        return SecretRef.model_validate(value)
    if not isinstance(value, dict):
        raise rule_error(
            "an env value must be text",
            'quote it (`NAME: "5"`), or write `NAME: {secretRef: <secret name>}` for a Key Vault secret',
        )
    raise rule_error(
        "an env entry is either a plain string or `{secretRef: <secret name>}`",
        "write `NAME: value`, or `NAME: {secretRef: <a name under this job's secrets>}` for a Key Vault secret",
    )


EnvValue = Annotated[str | SecretRef, BeforeValidator(_env_value)]
EnvironmentVariables = Annotated[dict[str, EnvValue], AfterValidator(check_env)]


def check_command(words: list[str]) -> list[str]:
    if not words:
        raise rule_error("is an empty list, which sets nothing", "remove it, or list the words, e.g. [python, -m, app]")
    for index, word in enumerate(words):
        if not word:
            raise rule_error(
                f"item {index} is empty: the program would get an empty argument (or, first, no program at all)",
                "remove the empty item, or write the word it stands for",
                key=str(index),
            )
        found = credential_in(word)
        if found:
            raise rule_error(
                f"item {index} holds {found} in plain text: it would be stored in the job definition, readable by "
                "anyone who can read the job",
                MOVE_TO_KEY_VAULT,
                key=str(index),
            )
    return words


CommandLine = Annotated[list[str], AfterValidator(check_command)]

# --- CPU, memory and workload profiles ---------------------------------------------------------------------

# The environment is a workload-profiles environment (Microsoft Learn labels Consumption-only environments legacy).
# Sizes from Microsoft Learn "Workload profiles in Azure Container Apps" (MicrosoftDocs/azure-docs
# `articles/container-apps/workload-profiles-overview.md`, 2025-11-04, "Profile details"):
# - the built-in Consumption profile: 0.25-4 vCPU and 0.5-8 GiB per replica, in the Consumption pairs of
#   0.25 vCPU steps at 1 vCPU : 2 GiB (`containers.md`, "Allocations");
# - Dedicated General Purpose D4/D8/D16/D32 (4 GiB per core) and Memory Optimized E4/E8/E16/E32 (8 GiB per core),
#   per node; "the total resources available to your apps are slightly less than the profile's allocation, as
#   the runtime reserves some compute resources". GPU and confidential-compute profiles are not offered here.
CONSUMPTION = "Consumption"
CPU_STEP = Decimal("0.25")
CONSUMPTION_CPU_MAX = Decimal("4.0")
# workloadProfileType -> (cores, GiB) of one node.
DEDICATED_SIZES: dict[str, tuple[int, int]] = {
    "D4": (4, 16),
    "D8": (8, 32),
    "D16": (16, 64),
    "D32": (32, 128),
    "E4": (4, 32),
    "E8": (8, 64),
    "E16": (16, 128),
    "E32": (32, 256),
}
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]{1,2})?)Gi$")
# Our rule for a dedicated profile's name (the API's own limit is not documented): letters, digits and '-',
# starting with a letter, at most 64 characters; `Consumption` is the built-in profile's.
_PROFILE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


def consumption_pairs() -> str:
    steps = [CPU_STEP * n for n in range(1, int(CONSUMPTION_CPU_MAX / CPU_STEP) + 1)]
    return ", ".join(f"{s.normalize():f}/{(s * 2).normalize():f}Gi" for s in steps)


class WorkloadProfileConfig(ConfigModel):
    """A dedicated workload profile of the environment: a pool of `minimumCount`-`maximumCount` nodes."""

    name: str
    workload_profile_type: str
    minimum_count: Annotated[int, Field(ge=0)]
    maximum_count: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _check(self) -> WorkloadProfileConfig:
        builtin = self.name.lower() == CONSUMPTION.lower()
        if builtin or not _PROFILE_NAME.fullmatch(self.name):
            raise rule_error(
                f"`{self.name}` cannot name a dedicated profile"
                + (" (it is the built-in profile's name)" if builtin else ""),
                "use 1-64 letters, digits and '-', starting with a letter, e.g. `dedicated-d4`",
                key="name",
            )
        if self.workload_profile_type not in DEDICATED_SIZES:
            raise rule_error(
                f"`{self.workload_profile_type}` is not a dedicated profile type this project supports",
                "use one of "
                + ", ".join(f"`{t}`" for t in DEDICATED_SIZES)
                + " (the Consumption profile is always there; GPU and confidential profiles are not offered)",
                key="workloadProfileType",
            )
        if self.minimum_count > self.maximum_count:
            raise rule_error(
                f"minimumCount {self.minimum_count} is above maximumCount {self.maximum_count}",
                f"lower minimumCount to at most {self.maximum_count}",
                key="minimumCount",
            )
        return self

    @property
    def node_cores(self) -> int:
        return DEDICATED_SIZES[self.workload_profile_type][0]

    @property
    def node_memory_gib(self) -> int:
        return DEDICATED_SIZES[self.workload_profile_type][1]


def check_workload_profiles(profiles: list[WorkloadProfileConfig]) -> list[WorkloadProfileConfig]:
    seen: set[str] = set()
    for index, profile in enumerate(profiles):
        if profile.name.lower() in seen:
            raise rule_error(
                f"profile `{profile.name}` is listed twice (profile names are case-insensitive)",
                "remove one, or give it another name",
                key=f"{index}.name",
            )
        seen.add(profile.name.lower())
    return profiles


def check_resources(cpu_value: float, memory_value: str, profile: WorkloadProfileConfig | None) -> None:
    """CPU and memory of one replica on its profile (`None` = the Consumption profile). Raises `rule_error` with
    `key` `cpu` or `memory`."""
    cpu = Decimal(str(cpu_value))
    memory = _MEMORY.fullmatch(memory_value)
    if profile is None:
        if cpu <= 0 or cpu > CONSUMPTION_CPU_MAX or cpu % CPU_STEP != 0:
            raise rule_error(
                f"cpu {cpu_value} is not a size of the Consumption profile",
                f"use a multiple of {CPU_STEP} from {CPU_STEP} to {CONSUMPTION_CPU_MAX} with memory twice as many Gi "
                f"({consumption_pairs()}), or run the job on a dedicated profile (`workloadProfile`)",
                key="cpu",
            )
        if memory is None or Decimal(memory[1]) != cpu * 2:
            raise rule_error(
                f"cpu {cpu_value} with memory {memory_value} is not a valid Consumption pair",
                f"set memory to `{(cpu * 2).normalize():f}Gi` (always 1 vCPU : 2Gi; pairs: {consumption_pairs()})",
                key="memory",
            )
        return
    where = (
        f"a node of profile `{profile.name}` ({profile.workload_profile_type}: {profile.node_cores} cores, "
        f"{profile.node_memory_gib}Gi)"
    )
    if cpu <= 0 or cpu % CPU_STEP != 0 or cpu > profile.node_cores:
        raise rule_error(
            f"cpu {cpu_value} does not fit {where}",
            f"use a multiple of {CPU_STEP} up to {profile.node_cores}, or a larger profile type",
            key="cpu",
        )
    if memory is None or not 0 < Decimal(memory[1]) <= profile.node_memory_gib:
        raise rule_error(
            f"memory {memory_value} does not fit {where}",
            f"use Gi with at most two decimals, up to `{profile.node_memory_gib}Gi`, or a larger profile type",
            key="memory",
        )


# --- Key Vault --------------------------------------------------------------------------------------------

# Vault names: 3-24 letters, digits and '-', starting with a letter, ending with a letter or digit, no '--'.
_VAULT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
KEY_VAULT_TYPE = "Microsoft.KeyVault/vaults"
_KEY_VAULT_ID_EXAMPLE = (
    "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name> "
    "(`az keyvault show -n <name> --query id -o tsv`)"
)
# https://<vault>.<Key Vault suffix of a cloud>/secrets/<name>[/<version>]. Key Vault object names are 1-127
# letters, digits and '-' (Microsoft Learn, "About keys, secrets and certificates", Object identifiers); a version is
# 32 hex digits. A versionless URL follows rotation. The host is checked against the stack's cloud by the stack.
_SECRET_URL = re.compile(
    r"^https://(?P<vault>[A-Za-z0-9-]{3,24})(?P<suffix>\.(?i:vault)(?:\.[A-Za-z0-9-]+)+)/secrets/"
    r"(?P<secret>[A-Za-z0-9-]{1,127})(?:/(?P<version>[0-9a-fA-F]{32}))?$"
)


class KeyVaultConfig(ConfigModel):
    """The stack's Key Vault (Azure RBAC permission model): job secrets are read from it, each granted per secret."""

    resource_id: str

    @model_validator(mode="after")
    def _check(self) -> KeyVaultConfig:
        vault = parse_arm_id(self.resource_id, "resourceId", "a Key Vault resource id", _KEY_VAULT_ID_EXAMPLE)
        name = vault.name or ""
        if not vault.is_type(KEY_VAULT_TYPE) or not _VAULT_NAME.fullmatch(name) or "--" in name:
            raise rule_error(
                f"`{self.resource_id}` is not a Key Vault resource id", f"use {_KEY_VAULT_ID_EXAMPLE}", key="resourceId"
            )
        return self

    @property
    def id(self) -> ArmId:
        return ArmId.parse(self.resource_id)

    @property
    def name(self) -> str:
        return self.id.name or ""

    def secret_id(self, secret_name: str) -> str:
        """The ARM id of one secret of the vault: the narrowest scope Key Vault Secrets User can be granted at."""
        return f"{self.resource_id}/secrets/{secret_name}"


class KeyVaultSecret(ConfigModel):
    """A job secret that Container Apps reads from Key Vault with the job's lifecycle-None identity."""

    key_vault_secret_url: str

    @model_validator(mode="before")
    @classmethod
    def _no_values(cls, data: Any) -> Any:
        if isinstance(data, dict) and "value" in data:
            raise rule_error(
                "a secret value is never read from config: it would sit in the stack file and in the job definition",
                "store it in the stack's Key Vault and write `keyVaultSecretUrl: "
                "https://<vault>.vault.azure.net/secrets/<name>` instead",
                key="value",
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> KeyVaultSecret:
        match = _SECRET_URL.fullmatch(self.key_vault_secret_url)
        known_suffixes = {cloud.key_vault_suffix for cloud in CLOUDS.values()}
        if match is None or match["suffix"].lower() not in known_suffixes:
            raise rule_error(
                f"`{self.key_vault_secret_url}` is not a Key Vault secret URL",
                "use https://<vault>.vault.azure.net/secrets/<name> (or .../<name>/<32-hex version> to pin a version)",
                key="keyVaultSecretUrl",
            )
        return self

    def _part(self, group: str) -> str:
        match = _SECRET_URL.fullmatch(self.key_vault_secret_url)
        assert match is not None  # checked above
        return match[group]

    @property
    def vault_name(self) -> str:
        return self._part("vault")

    @property
    def secret_name(self) -> str:
        return self._part("secret")

    @property
    def host_suffix(self) -> str:
        """The Key Vault DNS suffix of the URL's host, lower-cased (host names are case-insensitive)."""
        return self._part("suffix").lower()


# Container Apps secret names are lowercase RFC 1123 subdomains (ARM: "must consist of lower case alphanumeric
# characters, '-' or '.', and must start and end with an alphanumeric character"): dot-separated labels of lower-case
# letters, digits and '-', each starting and ending with a letter or digit (so no `..`), at most 253 characters.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_JOB_SECRET_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def check_secret_names(secrets: dict[str, KeyVaultSecret]) -> dict[str, KeyVaultSecret]:
    for name in secrets:
        if not _JOB_SECRET_NAME.fullmatch(name):
            raise rule_error(
                f"`{name}` is not a valid Container Apps secret name",
                "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, with no "
                "two dots in a row, at most 253 characters, e.g. `db-password`",
                key=name,
            )
    return secrets


JobSecrets = Annotated[dict[str, KeyVaultSecret], AfterValidator(check_secret_names)]


# --- Azure access for the job's code ------------------------------------------------------------------------

_MANAGEMENT_ROLES = ("Owner", "Contributor", "Reader")  # control-plane roles: they act on resources, not data


class AzureAccessGrant(ConfigModel):
    """One data-plane role the job's code gets on one resource (through the job's lifecycle-Main identity)."""

    role: str
    scope: str

    @model_validator(mode="after")
    def _check(self) -> AzureAccessGrant:
        if self.role not in DATA_PLANE_ROLES_BY_NAME:
            management = (
                self.role in _MANAGEMENT_ROLES
                or self.role in ROLES_THAT_GRANT_ROLES.values()
                or "administrator" in self.role.lower()
            )
            raise rule_error(
                f"`{self.role}` is a management (control-plane) role: it acts on the resource or on access to it, not "
                "on the data the code works with"
                if management
                else f"`{self.role}` is not one of the data-plane roles a job's code may get",
                "use one of "
                + ", ".join(f"`{name}`" for name in DATA_PLANE_ROLES_BY_NAME)
                + "; anything broader is granted outside this stack and reviewed on its own",
                key="role",
            )
        example = (
            "the id of what the code needs, e.g. /subscriptions/<sub>/resourceGroups/<rg>/providers/"
            "Microsoft.Storage/storageAccounts/<account>/blobServices/default/containers/<container>"
        )
        scope = parse_arm_id(self.scope, "scope", "the id of one resource", example)
        if scope.level != RESOURCE or scope.resource_group is None:
            raise rule_error(
                f"scope `{self.scope}` is a whole {scope.level}, too wide: the role would reach everything in it, not "
                "one resource",
                f"use {example}",
                key="scope",
            )
        role = self.built_in_role
        if role.provider and (scope.namespace or "").lower() != role.provider.lower():
            raise rule_error(
                f"`{self.role}` acts on {role.provider} resources, but the scope is a {scope.namespace} resource",
                f"point scope at the {role.provider} resource the code uses",
                key="scope",
            )
        narrowest = NARROWEST_SCOPE_TYPES.get(role.guid, ())
        if narrowest and not any(scope.is_type(kind) for kind in narrowest):
            if role == KEY_VAULT_SECRETS_USER:
                raise rule_error(
                    "Key Vault Secrets User on anything but one secret reads every secret below it",
                    "scope it to one secret (<vault id>/secrets/<name>), or use the job's `secrets`, which the "
                    "platform reads for the job",
                    key="scope",
                )
            raise rule_error(
                f"`{self.role}` on a {scope.resource_type} reaches every entity in it",
                "scope it to the one queue or topic the code uses (<namespace id>/queues/<queue> or "
                "<namespace id>/topics/<topic>)",
                key="scope",
            )
        return self

    @property
    def scope_id(self) -> ArmId:
        return ArmId.parse(self.scope)

    @property
    def built_in_role(self) -> BuiltInRole:
        return DATA_PLANE_ROLES_BY_NAME[self.role]


def check_unique_grants(grants: list[AzureAccessGrant]) -> list[AzureAccessGrant]:
    # One role on one scope for one principal is one Azure role assignment (its name is derived from the three):
    # scopes compare as parsed ids, so two spellings of one id are one grant.
    seen: dict[tuple[str, ArmId], int] = {}
    for index, grant in enumerate(grants):
        identity = (grant.role, grant.scope_id)
        if identity in seen:
            raise rule_error(
                f"`{grant.role}` on `{grant.scope}` is listed twice (also item {seen[identity]}): both would be one "
                "Azure role assignment",
                "remove the duplicate",
                key=f"{index}",
            )
        seen[identity] = index
    return grants


AzureAccess = Annotated[list[AzureAccessGrant], AfterValidator(check_unique_grants)]


# --- alerts -----------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
ACTION_GROUP_TYPE = "Microsoft.Insights/actionGroups"
_ACTION_GROUP_ID_EXAMPLE = (
    "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Insights/actionGroups/<name> "
    "(`az monitor action-group show -g <rg> -n <name> --query id -o tsv`)"
)
# Azure Monitor service limits, action groups (MicrosoftDocs `includes/azure-monitor-limits-action-groups.md`):
# "1,000 email actions in an action group"; "The character limit in an e-mail address is 64."
EMAIL_RECEIVERS_MAX = 1000
EMAIL_ADDRESS_MAX = 64
# An action group's short name (shown in SMS and email subjects) is 1-12 characters (ARM `groupShortName`).
SHORT_NAME_MAX = 12
_SHORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,11}$")
# Microsoft Learn "Create or edit a log search alert rule": evaluation frequency from 1 minute to 1 day; the
# window (query time range) at least the frequency, at most 2 days.
LOG_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M", "PT1H", "PT2H", "PT3H", "PT6H", "P1D")
LOG_ALERT_WINDOW_MAX_SECONDS = 2 * 86400
# Metric alerts (Microsoft.Insights/metricAlerts 2018-03-01): windowSize is one of these; stuckBacklog.minutes is it.
METRIC_ALERT_WINDOW_MINUTES = (5, 15, 30, 60, 360, 720, 1440)


class FailedExecutionAlertConfig(ConfigModel):
    """The log search alert on each job's failed executions (the environment's system logs)."""

    evaluation_frequency: str = "PT5M"
    window_size: str = "PT15M"
    severity: Annotated[int, Field(ge=0, le=4)] = 1

    @model_validator(mode="after")
    def _check(self) -> FailedExecutionAlertConfig:
        if self.evaluation_frequency not in LOG_ALERT_FREQUENCIES:
            raise rule_error(
                f"`{self.evaluation_frequency}` is not an evaluation frequency a log search alert takes",
                "use one of " + ", ".join(f"`{f}`" for f in LOG_ALERT_FREQUENCIES),
                key="evaluationFrequency",
            )
        window = duration_seconds(self.window_size)
        frequency = duration_seconds(self.evaluation_frequency) or 0
        if window is None or not frequency <= window <= LOG_ALERT_WINDOW_MAX_SECONDS:
            raise rule_error(
                f"windowSize `{self.window_size}` must be an ISO-8601 duration from the evaluation frequency "
                f"({self.evaluation_frequency}) up to P2D",
                "use e.g. `PT15M` or `PT1H`; a window longer than the frequency re-reads a failure for a while, "
                "which is what keeps the alert firing until it is handled",
                key="windowSize",
            )
        return self


class DeadLetterAlertConfig(ConfigModel):
    """The metric alert on an event job's dead-lettered messages (any message in the dead-letter queue)."""

    severity: Annotated[int, Field(ge=0, le=4)] = 2


class StuckBacklogAlertConfig(ConfigModel):
    """The metric alert on an event job's backlog staying above `threshold` for `minutes`: a scaler that cannot
    read the queue starts no executions and fails none, so only the backlog shows it."""

    threshold: Annotated[int, Field(ge=1)] = 100
    minutes: int = 30
    severity: Annotated[int, Field(ge=0, le=4)] = 2

    @model_validator(mode="after")
    def _check(self) -> StuckBacklogAlertConfig:
        if self.minutes not in METRIC_ALERT_WINDOW_MINUTES:
            raise rule_error(
                f"minutes {self.minutes} is not a window a metric alert takes",
                "use one of " + ", ".join(str(m) for m in METRIC_ALERT_WINDOW_MINUTES),
                key="minutes",
            )
        return self


class AlertsConfig(ConfigModel):
    """Who is told when a job fails: a new action group mailing `emails`, or an existing `actionGroupId`."""

    emails: list[str] | None = None
    action_group_id: str | None = None
    enabled: bool = True
    # The action group's short name (1-12 characters, shown in notifications); default from the environment name.
    short_name: str | None = None
    failed_executions: FailedExecutionAlertConfig = Field(default_factory=FailedExecutionAlertConfig)
    dead_letters: DeadLetterAlertConfig = Field(default_factory=DeadLetterAlertConfig)
    stuck_backlog: StuckBacklogAlertConfig = Field(default_factory=StuckBacklogAlertConfig)

    @model_validator(mode="after")
    def _check(self) -> AlertsConfig:
        if (self.emails is None) == (self.action_group_id is None):
            raise rule_error(
                "needs exactly one of `emails` (the stack creates an action group) and `actionGroupId` (an existing "
                "one)" + (", not both" if self.emails is not None else ""),
                "keep `emails: [oncall@example.com]` or `actionGroupId: /subscriptions/<sub>/resourceGroups/<rg>/"
                "providers/Microsoft.Insights/actionGroups/<name>`",
                key="actionGroupId" if self.emails is not None else "emails",
            )
        if self.emails is not None:
            if not self.emails:
                raise rule_error("is an empty list: nobody would be told", "list at least one address", key="emails")
            if len(self.emails) > EMAIL_RECEIVERS_MAX:
                raise rule_error(
                    f"lists {len(self.emails)} addresses; an action group takes at most {EMAIL_RECEIVERS_MAX} email "
                    "receivers (Azure Monitor service limits)",
                    "mail a distribution list instead of every person, or use an existing action group "
                    "(`actionGroupId`)",
                    key="emails",
                )
            for index, email in enumerate(self.emails):
                if len(email) > EMAIL_ADDRESS_MAX:
                    raise rule_error(
                        f"`{email[:40]}...` is longer than the {EMAIL_ADDRESS_MAX} characters an action group takes "
                        "for an email address",
                        "use a shorter address (for example a distribution list)",
                        key=f"emails.{index}",
                    )
                if not _EMAIL.fullmatch(email):
                    raise rule_error(
                        f"`{email}` is not an email address", "write one address per item", key=f"emails.{index}"
                    )
            if len({email.lower() for email in self.emails}) != len(self.emails):
                raise rule_error("lists an address twice", "remove the duplicate", key="emails")
        if self.action_group_id is not None:
            group = parse_arm_id(
                self.action_group_id, "actionGroupId", "an action group resource id", _ACTION_GROUP_ID_EXAMPLE
            )
            if not group.is_type(ACTION_GROUP_TYPE) or group.resource_group is None:
                raise rule_error(
                    f"`{self.action_group_id}` is not an action group resource id",
                    f"use {_ACTION_GROUP_ID_EXAMPLE}",
                    key="actionGroupId",
                )
        if self.short_name is not None and not _SHORT_NAME.fullmatch(self.short_name):
            raise rule_error(
                f"shortName `{self.short_name}` is not 1-{SHORT_NAME_MAX} letters, digits and '-'",
                f"shorten it to at most {SHORT_NAME_MAX} characters",
                key="shortName",
            )
        if self.short_name is not None and self.action_group_id is not None:
            raise rule_error(
                "shortName names the action group the stack creates, but `actionGroupId` uses an existing one",
                "remove shortName",
                key="shortName",
            )
        return self

    def group_short_name(self, environment_name: str) -> str:
        """The created action group's short name: `shortName`, else the environment name cut to 12 characters."""
        return self.short_name or environment_name[:SHORT_NAME_MAX].rstrip("-")


# --- platform ---------------------------------------------------------------------------------------------

REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9]{5,50}$")
_REGISTRY_ID_EXAMPLE = (
    "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name> "
    "(`az acr show -n <name> --query id -o tsv`)"
)
# `<registry name>.azurecr.<io|us|cn>`: host names are case-insensitive, so the server is kept in lower case and
# image hosts are compared in lower case.
_LOGIN_SERVER = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(io|cn|us)$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$")


class RegistryConfig(ConfigModel):
    """The Azure Container Registry every job pulls from, through its own managed identity."""

    server: Annotated[str, AfterValidator(str.lower)]
    resource_id: str

    @model_validator(mode="after")
    def _check(self) -> RegistryConfig:
        if not _LOGIN_SERVER.fullmatch(self.server):
            raise rule_error(
                f"`{self.server}` is not an Azure Container Registry login server",
                "use the registry's login server, e.g. `acrsharedprod.azurecr.io`",
                key="server",
            )
        registry = parse_arm_id(
            self.resource_id, "resourceId", "a container registry resource id", _REGISTRY_ID_EXAMPLE
        )
        name = registry.name or ""
        if not registry.is_type(REGISTRY_TYPE) or not _REGISTRY_NAME.fullmatch(name):
            raise rule_error(
                f"`{self.resource_id}` is not a container registry resource id",
                f"use {_REGISTRY_ID_EXAMPLE}",
                key="resourceId",
            )
        if self.server.split(".")[0] != name.lower():
            raise rule_error(
                f"`{self.server}` is not the login server of registry `{name}`, so AcrPull would be "
                "granted on a different registry than the one images are pulled from",
                f"make them name the same registry, e.g. server `{name.lower()}.azurecr.io`",
                key="server",
            )
        return self


ENVIRONMENT_TYPE = "Microsoft.App/managedEnvironments"
WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"


class NetworkConfig(ConfigModel):
    """The virtual network a created environment joins (its infrastructure subnet), and whether it is internal
    (no public endpoint)."""

    infrastructure_subnet_id: str
    internal: bool = False

    @model_validator(mode="after")
    def _check(self) -> NetworkConfig:
        parse_id_of_type(
            self.infrastructure_subnet_id,
            "infrastructureSubnetId",
            SUBNET_TYPE,
            "a subnet",
            "az network vnet subnet show -g <rg> --vnet-name <vnet> -n <subnet> --query id -o tsv",
        )
        return self


STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
# Azure Files share names: 3-63 lower-case letters, digits and '-', starting and ending with a letter or digit, no
# '--' (Microsoft Learn, "Naming and referencing shares, directories, files, and metadata").
_SHARE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
ACCESS_MODES = ("ReadOnly", "ReadWrite")


class StorageConfig(ConfigModel):
    """An Azure Files share (SMB) the created environment registers (`ManagedEnvironmentsStorage`), for jobs to mount
    by name (`volumes.<name>: {type: AzureFile, storage: <storage name>}`). Its account key is in neither config nor
    state: the environment reads it from Key Vault (`accountKeyVaultProperties`) with the platform's storage
    identity, which holds Key Vault Secrets User on that one secret."""

    account_id: str
    share: str
    access_mode: str = "ReadOnly"
    # The Key Vault secret holding the storage account's key, in the stack's vault.
    account_key_secret_url: str

    @model_validator(mode="before")
    @classmethod
    def _no_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "accountKey" in data:
            raise rule_error(
                "a storage account key is never read from config: it would sit in the stack file and in the state",
                "store it in the stack's Key Vault and write `accountKeySecretUrl: "
                "https://<vault>.vault.azure.net/secrets/<name>` instead",
                key="accountKey",
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> StorageConfig:
        problems: list[PydanticCustomError] = []
        with collected(problems):
            parse_id_of_type(
                self.account_id,
                "accountId",
                STORAGE_ACCOUNT_TYPE,
                "a storage account",
                "az storage account show -n <name> --query id -o tsv",
            )
        if not _SHARE_NAME.fullmatch(self.share) or "--" in self.share:
            problems.append(
                rule_error(
                    f"`{self.share}` is not an Azure Files share name",
                    "use 3-63 lower-case letters, digits and '-', starting and ending with a letter or digit, no '--'",
                    key="share",
                )
            )
        if self.access_mode not in ACCESS_MODES:
            problems.append(
                rule_error(
                    f"`{self.access_mode}` is not an access mode", "use `ReadOnly` or `ReadWrite`", key="accessMode"
                )
            )
        try:
            self.account_key_secret  # noqa: B018 (validated for its message)
        except ValidationError:
            problems.append(
                rule_error(
                    f"`{self.account_key_secret_url}` is not a Key Vault secret URL",
                    "use https://<vault>.vault.azure.net/secrets/<name> (or .../<name>/<32-hex version>)",
                    key="accountKeySecretUrl",
                )
            )
        raise_all(type(self).__name__, problems)
        return self

    @property
    def account_key_secret(self) -> KeyVaultSecret:
        return KeyVaultSecret.model_validate({"keyVaultSecretUrl": self.account_key_secret_url})

    @property
    def account_name(self) -> str:
        return ArmId.parse(self.account_id).name or ""


class EnvironmentConfig(ConfigModel):
    """The Container Apps environment (workload profiles: the built-in Consumption profile plus any dedicated
    profiles listed here) and its Log Analytics workspace: created by the stack (`name`), or an existing one the
    stack only references (`resourceId`, with `workspaceResourceId` for its workspace when alerts need it)."""

    name: ContainerAppsName | None = None
    resource_id: str | None = None
    workspace_resource_id: str | None = None
    network: NetworkConfig | None = None
    log_retention_days: Annotated[int, Field(ge=30, le=730)] = 30
    # Cores of the Consumption profile the environment may use at once (Azure's default quota is 100).
    core_quota: Annotated[int, Field(ge=1)] = 100
    # The dedicated profiles: created with the environment, or, for an existing one, as it has them (config, not a
    # read: the config rules check each job's profile and room before anything runs).
    workload_profiles: Annotated[list[WorkloadProfileConfig], AfterValidator(check_workload_profiles)] = Field(
        default_factory=list
    )
    # Stable physical name of the workspace; defaults to `log-<resource group>` (see PlatformConfig.workspace).
    workspace_name: str | None = None
    # Azure Files shares registered on the created environment, by the name jobs mount them with.
    storages: Annotated[dict[str, StorageConfig], AfterValidator(check_dns_label_keys)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> EnvironmentConfig:
        if (self.name is None) == (self.resource_id is None):
            raise rule_error(
                "needs exactly one of `name` (the stack creates the environment) and `resourceId` (an existing "
                "environment the stack only references)" + (", not both" if self.name is not None else ""),
                "keep `name: <environment name>`, or `resourceId: /subscriptions/<sub>/resourceGroups/<rg>/providers/"
                "Microsoft.App/managedEnvironments/<name>`",
                key="resourceId" if self.name is not None else "name",
            )
        if self.resource_id is not None:
            parse_id_of_type(
                self.resource_id,
                "resourceId",
                ENVIRONMENT_TYPE,
                "a Container Apps environment",
                "az containerapp env show -n <name> -g <rg> --query id -o tsv",
            )
            for created_only in ("network", "workspace_name", "log_retention_days", "storages"):
                if created_only in self.model_fields_set:
                    alias = to_camel(created_only)
                    raise rule_error(
                        f"`{alias}` configures an environment the stack creates, but `resourceId` references an "
                        "existing one, which the stack never changes",
                        f"remove `{alias}` (set it on the existing environment), or create the environment with `name`",
                        key=alias,
                    )
        if self.workspace_resource_id is not None:
            if self.resource_id is None:
                raise rule_error(
                    "`workspaceResourceId` names the workspace of an existing environment, but the stack creates this "
                    "environment and its workspace",
                    "remove `workspaceResourceId` (or `workspaceName` names the created workspace)",
                    key="workspaceResourceId",
                )
            parse_id_of_type(
                self.workspace_resource_id,
                "workspaceResourceId",
                WORKSPACE_TYPE,
                "a Log Analytics workspace",
                "az monitor log-analytics workspace show -g <rg> -n <name> --query id -o tsv",
            )
        if self.workspace_name is not None and not _WORKSPACE.fullmatch(self.workspace_name):
            raise rule_error(
                f"`{self.workspace_name}` is not a valid Log Analytics workspace name",
                "use 4-63 letters, digits and '-', starting and ending with a letter or digit",
                key="workspaceName",
            )
        return self

    @property
    def existing(self) -> ArmId | None:
        """The existing environment's parsed id, or None when the stack creates it."""
        return ArmId.parse(self.resource_id) if self.resource_id is not None else None

    @property
    def environment_name(self) -> str:
        """The environment's name: configured, or the existing environment's own."""
        existing = self.existing
        return existing.name or "" if existing is not None else self.name or ""


SERVICE_BUS_HOST_SUFFIX = ".servicebus.windows.net"
# Service Bus namespace: 6-50 letters, digits and '-', starts with a letter, ends with a letter or digit.
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$")


def normalize_namespace(value: str) -> str:
    """Accept the host-name form guides show (`<ns>.servicebus.windows.net`) and keep the bare name: the
    KEDA scaler with a managed identity appends the suffix itself, so a host name would be doubled."""
    bare = value.lower().removesuffix("/").removesuffix(SERVICE_BUS_HOST_SUFFIX)
    if not _NAMESPACE.fullmatch(bare) or bare.endswith(("-sb", "-mgmt")):
        raise rule_error(
            f"`{value}` is not a Service Bus namespace name",
            "use 6-50 letters, digits and '-', starting with a letter, ending with a letter or digit (not "
            "`-sb` or `-mgmt`), e.g. `sb-aca-prod`",
        )
    return bare


NAMESPACE_TYPE = "Microsoft.ServiceBus/namespaces"


class ServiceBusConfig(ConfigModel):
    """The Service Bus namespace of the stack's event jobs: created by the stack (`namespace`), or an existing one
    (`resourceId`) in which the stack creates only its queues."""

    namespace: Annotated[str, AfterValidator(normalize_namespace)] | None = None
    resource_id: str | None = None
    # The namespace's tier. For an existing namespace, say the tier it has: the config rules read it (a Basic
    # namespace keeps messages at most 14 days).
    sku: Literal["Basic", "Standard", "Premium"] = "Standard"

    @model_validator(mode="after")
    def _check(self) -> ServiceBusConfig:
        if (self.namespace is None) == (self.resource_id is None):
            raise rule_error(
                "needs exactly one of `namespace` (the stack creates the namespace) and `resourceId` (an existing "
                "namespace: the stack creates only its queues there)" + (", not both" if self.namespace else ""),
                "keep `namespace: <name>`, or `resourceId: /subscriptions/<sub>/resourceGroups/<rg>/providers/"
                "Microsoft.ServiceBus/namespaces/<name>`",
                key="resourceId" if self.namespace is not None else "namespace",
            )
        if self.resource_id is not None:
            namespace = parse_id_of_type(
                self.resource_id,
                "resourceId",
                NAMESPACE_TYPE,
                "a Service Bus namespace",
                "az servicebus namespace show -n <name> -g <rg> --query id -o tsv",
            )
            try:
                normalize_namespace(namespace.name or "")
            except PydanticCustomError as error:
                raise rule_error(error.message(), error.context["fix"], key="resourceId") from None
        return self

    @property
    def existing(self) -> ArmId | None:
        """The existing namespace's parsed id, or None when the stack creates it."""
        return ArmId.parse(self.resource_id) if self.resource_id is not None else None

    @property
    def name(self) -> str:
        """The bare namespace name (lower case): configured, or the existing namespace's own."""
        existing = self.existing
        return (existing.name or "").lower() if existing is not None else self.namespace or ""

    @property
    def host_name(self) -> str:
        return self.name + SERVICE_BUS_HOST_SUFFIX


# Markers the program sets on a job for the deliberate choices that relax a rule; a reviewer and the policy
# pack read them, so config may not set them by hand (components/job_template.py sets them from the job).
IDEMPOTENT_TAG = "aca-jobs-idempotent"
PARTIAL_COMPLETION_TAG = "aca-jobs-partial-completion"
RESERVED_TAGS = (IDEMPOTENT_TAG, PARTIAL_COMPLETION_TAG)
# Azure Resource Manager tag limits: name 512 characters, value 256 (Microsoft Learn, "Use tags to organize
# your Azure resources", Limitations).
TAG_NAME_MAX, TAG_VALUE_MAX = 512, 256


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    for name, value in tags.items():
        if name.lower() in RESERVED_TAGS:
            raise rule_error(
                f"`{name}` is a marker the program sets on a job from its own settings (`idempotent`, "
                "`allowPartialCompletion`); set here it would mark every job for reviewers and the policy pack",
                f"remove tags.{name}; set the setting on the job that needs it",
                key=name,
            )
        if len(name) > TAG_NAME_MAX or len(value) > TAG_VALUE_MAX:
            raise rule_error(
                f"tag `{name[:40]}` is longer than Azure accepts (names up to {TAG_NAME_MAX} characters, values "
                f"up to {TAG_VALUE_MAX})",
                "shorten it",
                key=name,
            )
    return tags


class PlatformConfig(ConfigModel):
    resource_group: str
    environment: EnvironmentConfig
    registry: RegistryConfig
    # Required only when the stack has event jobs.
    service_bus: ServiceBusConfig | None = None
    # Required only when a job has `secrets`.
    key_vault: KeyVaultConfig | None = None
    # Alert rules for every job (failed executions; dead letters and stuck backlogs of event jobs).
    alerts: AlertsConfig | None = None
    # Protect stateful resources (resource group, workspace, environment) against `pulumi destroy`/replace.
    protect: bool = False
    tags: Annotated[dict[str, str], AfterValidator(check_tags)] = Field(default_factory=dict)

    @property
    def workspace(self) -> str:
        """The workspace's physical name. The default follows the resource group (which holds the workspace, so
        renaming it replaces the workspace anyway), not the environment: renaming the environment must not
        replace the workspace and lose its logs."""
        if self.environment.workspace_name:
            return self.environment.workspace_name
        # Workspace names allow letters, digits and '-' only; a resource group name may hold '_', '.', '(', ')'.
        return re.sub(r"[^A-Za-z0-9-]", "-", f"log-{self.resource_group}")[:63].rstrip("-")

    @property
    def active_alerts(self) -> AlertsConfig | None:
        """The alert settings when alerting is on (`alerts` present and `enabled`), else None."""
        return self.alerts if self.alerts is not None and self.alerts.enabled else None

    def workload_profile(self, name: str) -> WorkloadProfileConfig | None:
        """The dedicated profile called exactly `name` (the job carries the name as written), or None."""
        return next((p for p in self.environment.workload_profiles if p.name == name), None)

    @model_validator(mode="after")
    def _check(self) -> PlatformConfig:
        environment = self.environment
        if environment.resource_id is not None and self.active_alerts and environment.workspace_resource_id is None:
            raise rule_error(
                "alerts query the environment's Log Analytics workspace, and the stack does not create it (the "
                "environment is an existing one)",
                "add `workspaceResourceId: <the existing environment's workspace id>` under environment, or turn "
                "alerts off (`alerts.enabled: false`)",
                key="environment.workspaceResourceId",
            )
        if not _RESOURCE_GROUP.fullmatch(self.resource_group):
            raise rule_error(
                f"`{self.resource_group}` is not a valid resource group name",
                "use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'",
                key="resourceGroup",
            )
        if environment.storages and self.key_vault is None:
            raise rule_error(
                "an environment storage reads its account key from the stack's Key Vault, and the platform names none",
                "add `keyVault: {resourceId: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/"
                "vaults/<name>}`",
                key="keyVault",
            )
        return self


@dataclass(frozen=True)
class PlatformFacts:
    """What the config rules read of the platform jobs run on: from this stack's `aca-jobs:platform`, or, in a team
    stack, from the platform stack's contract (`components/platform_contract.py`). The rules are the same either way;
    `where` names what a fix changes (this stack's keys, or the platform stack)."""

    registry_server: str
    key_vault_name: str | None
    workload_profiles: tuple[WorkloadProfileConfig, ...]
    # Cores this stack's Consumption jobs may hold at once, and the key that raises it.
    core_quota: float
    quota_what: str
    quota_key: str
    profiles_key: str
    service_bus_name: str | None
    service_bus_resource_group: str | None
    service_bus_sku: str | None
    # None: this stack creates the namespace and decides (single stack); else what the platform allows.
    local_auth_allowed: bool | None
    # What a fix that changes the platform names: `aca-jobs:platform` or the platform stack.
    where: str
    # The Azure Files storages registered on the environment (what `AzureFile` volumes mount), and where they are.
    storages: tuple[str, ...] = ()
    storages_key: str = f"{PLATFORM_KEY}.environment.storages"

    @classmethod
    def of_platform(cls, platform: PlatformConfig) -> PlatformFacts:
        bus = platform.service_bus
        existing_bus = bus.existing if bus is not None else None
        return cls(
            registry_server=platform.registry.server,
            key_vault_name=platform.key_vault.name if platform.key_vault else None,
            workload_profiles=tuple(platform.environment.workload_profiles),
            core_quota=platform.environment.core_quota,
            quota_what=f"the environment's coreQuota of {platform.environment.core_quota} for the Consumption profile",
            quota_key=f"{PLATFORM_KEY}.environment.coreQuota after raising the quota in Azure",
            profiles_key=f"{PLATFORM_KEY}.environment.workloadProfiles",
            service_bus_name=bus.name if bus else None,
            service_bus_resource_group=(existing_bus.resource_group if existing_bus else platform.resource_group)
            if bus
            else None,
            service_bus_sku=bus.sku if bus else None,
            local_auth_allowed=None,
            where=PLATFORM_KEY,
            storages=tuple(platform.environment.storages),
        )

    @classmethod
    def of_contract(cls, contract: PlatformContract, platform_stack: str, team: TeamConfig) -> PlatformFacts:
        """What the config rules read of the platform, from its contract and the team's share of its cores."""
        where = f"the platform stack `{platform_stack}`"
        budget = team.core_budget if team.core_budget is not None else contract.core_quota
        quota_what = (
            f"the team's coreBudget of {budget}"
            if team.core_budget is not None
            else f"the platform's coreQuota of {budget} (the team has no coreBudget, so it may take all of it)"
        )
        key_vault = ArmId.parse(contract.key_vault_id) if contract.key_vault_id else None
        bus = contract.service_bus
        return cls(
            registry_server=contract.registry.server,
            key_vault_name=key_vault.name if key_vault else None,
            workload_profiles=tuple(
                WorkloadProfileConfig.model_validate(
                    {
                        "name": profile.name,
                        "workloadProfileType": profile.workload_profile_type,
                        "minimumCount": profile.minimum_count,
                        "maximumCount": profile.maximum_count,
                    }
                )
                for profile in contract.workload_profiles
            ),
            core_quota=budget,
            quota_what=quota_what,
            quota_key=f"{TEAM_KEY}.coreBudget (agreed with the platform team)",
            profiles_key=f"{where}'s environment.workloadProfiles",
            service_bus_name=bus.namespace if bus else None,
            service_bus_resource_group=bus.resource_group if bus else None,
            service_bus_sku=bus.sku if bus else None,
            local_auth_allowed=bus.local_auth_allowed if bus else None,
            where=where,
            storages=tuple(storage.name for storage in contract.storages),
            storages_key=f"{where}'s environment.storages",
        )

    def workload_profile(self, name: str) -> WorkloadProfileConfig | None:
        """The dedicated profile called exactly `name` (the job carries the name as written), or None."""
        return next((p for p in self.workload_profiles if p.name == name), None)

    def capacity(self, profile: WorkloadProfileConfig | None) -> tuple[float, str]:
        if profile is None:
            return self.core_quota, self.quota_what
        cores = profile.maximum_count * profile.node_cores
        return cores, (
            f"profile `{profile.name}`'s {cores} cores (maximumCount {profile.maximum_count} x "
            f"{profile.node_cores}-core {profile.workload_profile_type} nodes)"
        )

    def capacity_key(self, profile: WorkloadProfileConfig | None) -> str:
        if profile is None:
            return self.quota_key
        return f"the profile's maximumCount under {self.profiles_key}"


# --- volumes, mounts, probes and init containers -------------------------------------------------------------
#
# The shapes are those of the API version pulumi-azure-native 3.29.0 sends `app.Job` at, 2025-02-02-preview
# (Azure/azure-rest-api-specs `specification/app/resource-manager/Microsoft.App/preview/2025-02-02-preview/
# CommonDefinitions.json`): `JobTemplate` {initContainers: InitContainer[], containers: Container[], volumes:
# Volume[]}; `InitContainer` is a `BaseContainer` (image, name, command, args, env, resources, volumeMounts) and
# `Container` adds `probes`; `Volume` {name, storageType: AzureFile | EmptyDir | Secret | NfsAzureFile | Smb,
# storageName, secrets: SecretVolumeItem[] {secretRef, path}, mountOptions}; `VolumeMount` {volumeName, mountPath
# ("Must not contain ':'"), subPath}; `ContainerAppProbe` below.


class SecretVolumeItem(ConfigModel):
    """One of the job's secrets, written as one file of a `Secret` volume."""

    secret_ref: str
    # The file's name in the volume; Azure's default is the secret's name (`SecretVolumeItem.path`).
    path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SecretVolumeItem:
        path = self.path
        if path is not None and (not path or "/" in path or ":" in path or path in (".", "..")):
            raise rule_error(
                f"`{path}` is not a file name: the item is one file directly in the volume",
                "write a file name without '/' or ':', e.g. `tls.crt`; mount the volume where the file belongs",
                key="path",
            )
        return self

    @property
    def file_name(self) -> str:
        return self.path if self.path is not None else self.secret_ref


AZURE_FILE, EMPTY_DIR, SECRET_VOLUME = "AzureFile", "EmptyDir", "Secret"
VOLUME_TYPES = (EMPTY_DIR, SECRET_VOLUME, AZURE_FILE)
# Types the API has that are not offered here, and why.
NOT_OFFERED_VOLUME_TYPES = {
    "NfsAzureFile": "NFS Azure Files needs an environment on a virtual network and a share registered by its NFS "
    "server, which aca-jobs does not register yet",
    "Smb": "an SMB share outside Azure Files is reached with a user name and password stored on the environment",
}


class VolumeConfig(ConfigModel):
    """A volume of the job's replicas: scratch space (`EmptyDir`), files from the job's Key Vault secrets
    (`Secret`), or an Azure Files share registered on the environment (`AzureFile`)."""

    type: str
    # Secret: which of the job's secrets, as which files.
    items: list[SecretVolumeItem] | None = None
    # AzureFile: the name of a storage under the platform's `environment.storages`.
    storage: str | None = None
    # AzureFile: mount options, one comma-separated string (`dir_mode=0750,file_mode=0640`).
    mount_options: str | None = None

    @model_validator(mode="after")
    def _check(self) -> VolumeConfig:
        if self.type in NOT_OFFERED_VOLUME_TYPES:
            raise rule_error(
                f"`{self.type}` volumes are not offered: {NOT_OFFERED_VOLUME_TYPES[self.type]}",
                "use `AzureFile` with a storage under the platform's `environment.storages`",
                key="type",
            )
        if self.type not in VOLUME_TYPES:
            raise rule_error(
                f"`{self.type}` is not a volume type",
                "use one of " + ", ".join(f"`{kind}`" for kind in VOLUME_TYPES),
                key="type",
            )
        problems: list[PydanticCustomError] = []
        own = {AZURE_FILE: ("storage", "mountOptions"), SECRET_VOLUME: ("items",), EMPTY_DIR: ()}[self.type]
        for key, value in (("items", self.items), ("storage", self.storage), ("mountOptions", self.mount_options)):
            if value is not None and key not in own:
                problems.append(
                    rule_error(
                        f"`{key}` configures another type of volume than `{self.type}`",
                        f"remove `{key}`",
                        key=key,
                    )
                )
        if self.type == SECRET_VOLUME and not self.items:
            # Azure mounts every secret of the job when the list is empty (`Volume.secrets`: "If no secrets are
            # provided, all secrets in collection will be added to volume"): a secret added later for another
            # purpose would silently become a file too.
            problems.append(
                rule_error(
                    "a Secret volume needs its files listed: without `items` Azure mounts every secret of the job",
                    "list them: `items: [{secretRef: <a name under this job's secrets>, path: <file name>}]`",
                    key="items",
                )
            )
        files = [item.file_name for item in self.items or []]
        for index, item in enumerate(self.items or []):
            if files.index(item.file_name) != index:
                problems.append(
                    rule_error(
                        f"file `{item.file_name}` is listed twice in this volume",
                        "give each item its own `path`",
                        key=f"items.{index}.path",
                    )
                )
        if self.type == AZURE_FILE and self.storage is None:
            problems.append(
                rule_error(
                    "an AzureFile volume names the environment storage it mounts",
                    "add `storage: <a name under the platform's environment.storages>`",
                    key="storage",
                )
            )
        if self.mount_options is not None:
            found = credential_in(self.mount_options)
            if found or not self.mount_options or " " in self.mount_options:
                problems.append(
                    rule_error(
                        f"mountOptions holds {found} in plain text"
                        if found
                        else "mountOptions is one comma-separated string without spaces",
                        "write e.g. `dir_mode=0750,file_mode=0640`; the account key is registered on the environment "
                        "from Key Vault, never here",
                        key="mountOptions",
                    )
                )
        raise_all(type(self).__name__, problems)
        return self


Volumes = Annotated[dict[str, VolumeConfig], AfterValidator(check_dns_label_keys)]


class VolumeMountConfig(ConfigModel):
    """One of the job's volumes, mounted in a container at `mountPath` (the volume's `subPath` only, when set)."""

    volume: str
    mount_path: str
    sub_path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> VolumeMountConfig:
        segments = self.mount_path.split("/")
        if not self.mount_path.startswith("/") or self.mount_path == "/" or ":" in self.mount_path or ".." in segments:
            raise rule_error(
                f"mountPath `{self.mount_path}` is not an absolute path below `/`",
                "write the directory the container sees, e.g. `/mnt/scratch` (no ':' or '..')",
                key="mountPath",
            )
        if self.sub_path is not None and (
            not self.sub_path or self.sub_path.startswith("/") or ".." in self.sub_path.split("/")
        ):
            raise rule_error(
                f"subPath `{self.sub_path}` is not a path inside the volume",
                "write a relative path such as `reports/daily` (no leading '/', no '..'), or remove subPath",
                key="subPath",
            )
        return self


def check_mounts(mounts: list[VolumeMountConfig]) -> list[VolumeMountConfig]:
    seen: dict[str, int] = {}
    for index, mount in enumerate(mounts):
        path = mount.mount_path.rstrip("/")
        if path in seen:
            raise rule_error(
                f"mountPath `{mount.mount_path}` is also item {seen[path]}'s: one directory holds one mount",
                "mount the second volume elsewhere",
                key=f"{index}.mountPath",
            )
        seen[path] = index
    return mounts


VolumeMounts = Annotated[list[VolumeMountConfig], AfterValidator(check_mounts)]

# `ContainerAppProbe` (CommonDefinitions.json): failureThreshold 1-10, initialDelaySeconds 1-60, periodSeconds 1-240,
# timeoutSeconds 1-240, a port 1-65535 (a number: Microsoft Learn "Health probes in Azure Container Apps",
# Restrictions: "Port values must be integers; named ports aren't supported", "You can only add one of each probe
# type per container"). `Container.probes` is on the job's containers too (Jobs.json `Job.properties.template` is a
# `JobTemplate` of `Container`s); Learn "Jobs in Azure Container Apps" lists Dapr and ingress as what jobs do not
# support. Readiness ("Checks if a replica is ready to handle incoming requests") has no meaning without ingress.
Port = Annotated[int, Field(ge=1, le=65535)]
PROBE_TYPES = ("Liveness", "Startup")


class HttpGetProbe(ConfigModel):
    port: Port
    path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> HttpGetProbe:
        if self.path is not None and not self.path.startswith("/"):
            raise rule_error(f"path `{self.path}` is not a URL path", "start it with '/', e.g. `/healthz`", key="path")
        return self


class TcpSocketProbe(ConfigModel):
    port: Port


class ProbeConfig(ConfigModel):
    """A health check the platform runs against the main container. Container Apps probes are Kubernetes probes
    (Learn "Health probes in Azure Container Apps"): failing liveness checks get the container killed, so a hung
    replica ends (failed, and retried within `replicaRetryLimit`) instead of holding its cores until
    `replicaTimeout`; a startup probe holds the liveness checks back until the program is up. How a job's replica
    ends on a killed container is Kubernetes' behaviour, untried on Azure."""

    type: str
    http_get: HttpGetProbe | None = None
    tcp_socket: TcpSocketProbe | None = None
    initial_delay_seconds: Annotated[int, Field(ge=1, le=60)] | None = None
    period_seconds: Annotated[int, Field(ge=1, le=240)] | None = None
    failure_threshold: Annotated[int, Field(ge=1, le=10)] | None = None
    timeout_seconds: Annotated[int, Field(ge=1, le=240)] | None = None

    @model_validator(mode="after")
    def _check(self) -> ProbeConfig:
        if self.type not in PROBE_TYPES:
            raise rule_error(
                "a readiness probe decides whether a replica gets requests, and a job gets none (jobs have no ingress)"
                if self.type == "Readiness"
                else f"`{self.type}` is not a probe type of a job",
                "use `Liveness` (restart a hung container) or `Startup` (give it time to start first)",
                key="type",
            )
        if (self.http_get is None) == (self.tcp_socket is None):
            raise rule_error(
                "a probe checks exactly one of `httpGet` and `tcpSocket`"
                + (", not both" if self.http_get is not None else ""),
                "write `httpGet: {path: /healthz, port: 8080}` or `tcpSocket: {port: 8080}`",
                key="tcpSocket" if self.http_get is not None else "httpGet",
            )
        return self


def check_probes(probes: list[ProbeConfig]) -> list[ProbeConfig]:
    for index, probe in enumerate(probes):
        if [p.type for p in probes].index(probe.type) != index:
            raise rule_error(
                f"a second {probe.type} probe: a container takes one probe of each type",
                "remove one",
                key=f"{index}.type",
            )
    return probes


Probes = Annotated[list[ProbeConfig], AfterValidator(check_probes)]


# --- jobs -------------------------------------------------------------------------------------------------


class ContainerSettings(ConfigModel):
    """What a container of a job is made of: its image, entrypoint, arguments, environment and size. Each field's own
    rules (a pinned image, no credential in `command`, `args` or `env`) come with its type; the rules that reach
    beyond the container (an env `secretRef` names one of the job's secrets, the image comes from the reviewed
    registry) are checked for every container of the job at once (`JobSettings.containers`), so every container of a
    job obeys the same rules, written once."""

    image: ImageReference
    cpu: float = 0.5
    memory: str = "1Gi"
    # The container's entrypoint and its arguments (the image's own when unset).
    command: CommandLine | None = None
    args: CommandLine | None = None
    env: EnvironmentVariables = Field(default_factory=dict)
    # The job's volumes this container mounts.
    volume_mounts: VolumeMounts = Field(default_factory=list)

    def container_problems(
        self, secrets: Mapping[str, KeyVaultSecret], volumes: Mapping[str, VolumeConfig]
    ) -> list[PydanticCustomError]:
        """This container's broken rules against its job's `secrets` and `volumes`, keyed below the container."""
        problems = [
            rule_error(
                f"env.{variable} reads secret `{value.secret_ref}`, which this job's `secrets` does not define",
                f"add `secrets: {{{value.secret_ref}: {{keyVaultSecretUrl: https://<vault>.vault.azure.net/"
                "secrets/<name>}}` to the job, or fix the name"
                + (f" (defined: {', '.join(sorted(secrets))})" if secrets else ""),
                key=f"env.{variable}.secretRef",
            )
            for variable, value in self.env.items()
            if isinstance(value, SecretRef) and value.secret_ref not in secrets
        ]
        problems.extend(
            rule_error(
                f"mounts volume `{mount.volume}`, which this job's `volumes` does not define",
                f"add `volumes: {{{mount.volume}: {{type: EmptyDir}}}}` (or the volume meant) to the job, or fix the "
                "name" + (f" (defined: {', '.join(sorted(volumes))})" if volumes else ""),
                key=f"volumeMounts.{index}.volume",
            )
            for index, mount in enumerate(self.volume_mounts)
            if mount.volume not in volumes
        )
        return problems

    @property
    def env_secret_refs(self) -> set[str]:
        """Names of the job's secrets this container's env entries read."""
        return {value.secret_ref for value in self.env.values() if isinstance(value, SecretRef)}


class InitContainerConfig(ContainerSettings):
    """A container that runs to completion before the main container starts, in the order listed (Microsoft Learn
    "Containers in Azure Container Apps", Init containers): migrations, fetching inputs into a shared volume. Held to
    every rule of the main container."""

    name: Annotated[str, AfterValidator(check_dns_label)]
    # The smallest Consumption size; an init container may not have more than the main container (see
    # `JobSettings.init_container_size_problems`).
    cpu: float = 0.25
    memory: str = "0.5Gi"

    @model_validator(mode="after")
    def _check_size(self) -> InitContainerConfig:
        # The API's container size: cpu above zero with at most two decimals, memory in Gi likewise (Learn
        # "Containers in Azure Container Apps", `resources.cpu` / `resources.memory`).
        if self.cpu <= 0 or Decimal(str(self.cpu)).as_tuple().exponent < -2:  # type: ignore[operator]
            raise rule_error(
                f"cpu {self.cpu} is not a container size", "use cores above 0 with at most two decimals", key="cpu"
            )
        memory = _MEMORY.fullmatch(self.memory)
        if memory is None or Decimal(memory[1]) <= 0:
            raise rule_error(
                f"memory `{self.memory}` is not a container size",
                "use Gi above 0 with at most two decimals, e.g. `0.5Gi`",
                key="memory",
            )
        return self


def check_init_containers(containers: list[InitContainerConfig]) -> list[InitContainerConfig]:
    names = [container.name for container in containers]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise rule_error(
                f"init container `{name}` is listed twice", "give each init container its own name", key=f"{index}.name"
            )
    return containers


class JobSettings(ContainerSettings):
    """Settings every job kind shares: its main container (`ContainerSettings`: image, command, environment,
    resources), replicas, retries, timeout, secrets and Azure access.

    The rules here (pinned image, retries only when idempotent, n-of-m only by choice, env secrets defined) apply
    unchanged to every job kind; CPU/memory depend on the workload profile, so the stack checks them
    (`StackConfigBase._job_on_platform_problems`).
    """

    parallelism: Annotated[int, Field(ge=1)] = 1
    replica_completion_count: Annotated[int, Field(ge=1)] = 1
    # Set when fewer successful replicas than `parallelism` is the intended outcome ("n-of-m").
    allow_partial_completion: bool = False
    replica_retry_limit: Annotated[int, Field(ge=0)] = 0
    # Set when re-running a replica cannot duplicate side effects; allows replicaRetryLimit above 1.
    idempotent: bool = False
    replica_timeout: Annotated[int, Field(ge=1)] = 1800
    # `Consumption` (built in) or the name of a dedicated profile under aca-jobs:platform.environment.
    workload_profile: str = CONSUMPTION
    # Key Vault secrets the platform reads for the job (with its lifecycle-None identity), used by `env` entries.
    secrets: JobSecrets = Field(default_factory=dict)
    # Data-plane roles for the job's code, through a lifecycle-Main identity (`AZURE_CLIENT_ID`).
    azure_access: AzureAccess = Field(default_factory=list)
    # Import the job of this name that already exists in the stack's resource group (made by hand) instead of
    # creating it; removed after the first `pulumi up` that imports it (docs/adopting.md).
    adopt: bool = False
    # Containers that run to completion, in order, before the main container starts.
    init_containers: Annotated[list[InitContainerConfig], AfterValidator(check_init_containers)] = Field(
        default_factory=list
    )
    # Volumes of the job's replicas, by name; containers mount them with `volumeMounts`.
    volumes: Volumes = Field(default_factory=dict)
    # Health checks of the main container (liveness, startup).
    probes: Probes = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_job_rules(self) -> JobSettings:
        raise_all(type(self).__name__, self.rule_problems())
        return self

    def rule_problems(self) -> list[PydanticCustomError]:
        """Every broken rule of this job (all of them: a stack file is fixed in one run, not one rule per run); a
        kind adds its own."""
        problems: list[PydanticCustomError] = []
        if self.replica_completion_count < self.parallelism and not self.allow_partial_completion:
            problems.append(
                rule_error(
                    f"replicaCompletionCount {self.replica_completion_count} is below parallelism "
                    f"{self.parallelism}: an execution would succeed while replicas still fail (n-of-m)",
                    f"set replicaCompletionCount to {self.parallelism}, or set `allowPartialCompletion: true` "
                    "if the extra replicas are deliberate redundancy",
                    key="replicaCompletionCount",
                )
            )
        if self.replica_retry_limit > 1 and not self.idempotent:
            problems.append(
                rule_error(
                    f"replicaRetryLimit {self.replica_retry_limit} re-runs a failed replica more than once, "
                    "which repeats its side effects",
                    "lower replicaRetryLimit to 0 or 1, or set `idempotent: true` if re-running is safe",
                    key="replicaRetryLimit",
                )
            )
        for where, container in self.containers():
            problems.extend(below(where, container.container_problems(self.secrets, self.volumes)))
        for volume_name, volume in self.volumes.items():
            for index, item in enumerate(volume.items or []):
                if item.secret_ref not in self.secrets:
                    problems.append(
                        rule_error(
                            f"volume `{volume_name}` writes secret `{item.secret_ref}`, which this job's `secrets` "
                            "does not define",
                            f"add `secrets: {{{item.secret_ref}: {{keyVaultSecretUrl: https://<vault>.vault.azure.net/"
                            "secrets/<name>}}` to the job, or fix the name"
                            + (f" (defined: {', '.join(sorted(self.secrets))})" if self.secrets else ""),
                            key=f"volumes.{volume_name}.items.{index}.secretRef",
                        )
                    )
        problems.extend(self.init_container_size_problems())
        if self.azure_access and "AZURE_CLIENT_ID" in self.env:
            problems.append(
                rule_error(
                    "`AZURE_CLIENT_ID` is set by the job to its workload identity (`azureAccess`)",
                    "remove env.AZURE_CLIENT_ID; the job sets it",
                    key="env.AZURE_CLIENT_ID",
                )
            )
        return problems

    def init_container_size_problems(self) -> list[PydanticCustomError]:
        """An init container is not counted in the replica's CPU/memory pair: Azure checks the pair over the app
        containers and refuses an init container larger than their total ("ContainerAppInitContainersInvalidCpu:
        ... an init container can not be allocated more CPU than the total CPU 0.25 allocated for all app
        containers", microsoft/azure-container-apps issue 1189). It runs, and exits, before the main container
        starts, so the replica never holds more than the main container's size: the storm guard counts that alone.
        The same bound is applied to memory (the error quoted names CPU; Kubernetes bounds both alike)."""
        problems = []
        main_memory = _MEMORY.fullmatch(self.memory)
        for index, container in enumerate(self.init_containers):
            if Decimal(str(container.cpu)) > Decimal(str(self.cpu)):
                problems.append(
                    rule_error(
                        f"init container `{container.name}` asks for cpu {container.cpu}, more than the job's cpu "
                        f"{self.cpu}: Azure refuses an init container larger than the main container",
                        f"lower it to at most {self.cpu}",
                        key=f"initContainers.{index}.cpu",
                    )
                )
            memory = _MEMORY.fullmatch(container.memory)
            if main_memory and memory and Decimal(memory[1]) > Decimal(main_memory[1]):
                problems.append(
                    rule_error(
                        f"init container `{container.name}` asks for memory {container.memory}, more than the job's "
                        f"memory {self.memory}",
                        f"lower it to at most `{self.memory}`",
                        key=f"initContainers.{index}.memory",
                    )
                )
        return problems

    def containers(self) -> list[tuple[str, ContainerSettings]]:
        """Every container of the job with its key below the job ('' for the main container, whose keys are the
        job's own): each is held to the same rules."""
        return [("", self), *((f"initContainers.{index}", c) for index, c in enumerate(self.init_containers))]

    @property
    def secret_refs(self) -> set[str]:
        """Names of the job's secrets that its containers or volumes read."""
        return set().union(
            *(container.env_secret_refs for _, container in self.containers()),
            *({item.secret_ref for item in volume.items or []} for volume in self.volumes.values()),
        )

    def peak_cores(self) -> tuple[float, str, str]:
        """Cores this job can hold at once, how that is computed, and the key to lower."""
        cores = self.parallelism * self.cpu
        return cores, f"parallelism {self.parallelism} x cpu {self.cpu}", "parallelism"

    # Hooks a job kind overrides for what is its own; the stack calls them for every kind.

    @classmethod
    def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformFacts, key: str) -> None:
        """Rules across this kind's jobs (`key` is the kind's config key) and the platform; raise `rule_error`
        with the full key path."""

    def warnings(self, name: str) -> list[str]:
        """Valid but risky choices of this job, shown by every preview (a kind adds its own)."""
        adopting = [
            f"job `{name}` is adopted (`adopt: true`): `pulumi up` imports the existing job as it is and changes "
            "nothing of it; the job's definition from this stack file is applied only once `adopt` is removed. "
            "Remove it after the `pulumi up` that imports the job (docs/adopting.md)."
        ]
        mounted = {mount.volume for _, container in self.containers() for mount in container.volume_mounts}
        return (
            (adopting if self.adopt else [])
            + [
                f"job `{name}` defines secret `{secret}`, which no env entry reads and no volume holds: the platform "
                f"still reads it from Key Vault for every execution. Use it (`env: {{NAME: {{secretRef: {secret}}}}}`) "
                "or remove it."
                for secret in sorted(set(self.secrets) - self.secret_refs)
            ]
            + [
                f"job `{name}` defines volume `{volume}`, which no container mounts. Mount it (`volumeMounts: "
                f"[{{volume: {volume}, mountPath: /mnt/{volume}}}]`) or remove it."
                for volume in sorted(set(self.volumes) - mounted)
            ]
        )

    @property
    def needs_service_bus_local_auth(self) -> bool:
        """Whether this job needs the namespace's SAS (local) auth left on."""
        return False

    def created_in(self) -> dict[str, str]:
        """Existing resources the stack creates this job's entities in (a storage queue in its account), by their
        key below the job: the provider creates them in its own subscription, which must be theirs."""
        return {}


_DURATION = re.compile(
    r"^P(?:(?P<d>[0-9]{1,6})D)?(?:T(?:(?P<h>[0-9]{1,6})H)?(?:(?P<m>[0-9]{1,6})M)?(?:(?P<s>[0-9]{1,6}(?:\.[0-9]{1,6})?)S)?)?$"
)


def duration_seconds(value: str) -> float | None:
    """Seconds in an ISO-8601 duration of days/hours/minutes/seconds (`PT1M`, `P14D`), or None."""
    match = _DURATION.fullmatch(value)
    if match is None or value in ("P", "PT") or value.endswith("T"):
        return None
    d, h, m, s = (float(match[g] or 0) for g in ("d", "h", "m", "s"))
    return d * 86400 + h * 3600 + m * 60 + s


# --- the stack's share of subscription limits ----------------------------------------------------------------

BUDGET_KEY = f"{PROJECT}:budget"
# Microsoft Learn, "Troubleshoot Azure RBAC limits": 4,000 role assignments per subscription, a limit that cannot be
# raised, shared by every stack (and everyone else) granting in the subscription.
ROLE_ASSIGNMENTS_PER_SUBSCRIPTION = 4000
DEFAULT_ROLE_ASSIGNMENT_BUDGET = 1000


class BudgetConfig(ConfigModel):
    """How much of the subscription's fixed limits this stack may take before every preview warns (docs/scale.md).
    A budget, not a limit: past it the stack still deploys, and the warning says where the room went."""

    role_assignments: Annotated[int, Field(ge=1)] = DEFAULT_ROLE_ASSIGNMENT_BUDGET

    @model_validator(mode="after")
    def _check(self) -> BudgetConfig:
        if self.role_assignments > ROLE_ASSIGNMENTS_PER_SUBSCRIPTION:
            raise rule_error(
                f"a budget of {self.role_assignments} role assignments is more than Azure allows in a whole "
                f"subscription ({ROLE_ASSIGNMENTS_PER_SUBSCRIPTION:,}, fixed), so it would never warn before Azure "
                "refuses a grant",
                f"set it to at most {ROLE_ASSIGNMENTS_PER_SUBSCRIPTION}, leaving room for the subscription's other "
                "stacks and grants",
                key="roleAssignments",
            )
        return self


# --- team stacks ----------------------------------------------------------------------------------------

# Pulumi names: organization, project and stack are letters, digits, '-', '_' and '.' (Pulumi "Stack names":
# "alphanumeric characters, hyphens, underscores, or periods"); a stack reference is fully qualified.
_PULUMI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_platform_stack(name: str) -> str:
    parts = name.split("/")
    if len(parts) != 3 or not all(_PULUMI_NAME.fullmatch(part) for part in parts):
        raise rule_error(
            f"`{name}` is not a fully qualified stack name",
            "write `<organization>/<project>/<stack>` (e.g. `acme/aca-platform/prod`), each part letters, digits, "
            "'-', '_' or '.'",
        )
    return name


class TeamConfig(ConfigModel):
    """A team stack's own place: the resource group it creates for its jobs, identities and alert rules, its tags and
    protection, and the share of the platform's cores its jobs may hold at once."""

    resource_group: str
    tags: Annotated[dict[str, str], AfterValidator(check_tags)] = Field(default_factory=dict)
    protect: bool = False
    # Cores this team's Consumption jobs may hold at once. Default: the platform's whole quota (one team); with
    # several teams on one environment the platform team hands out shares that add up to at most its quota.
    core_budget: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _check(self) -> TeamConfig:
        if not _RESOURCE_GROUP.fullmatch(self.resource_group):
            raise rule_error(
                f"`{self.resource_group}` is not a valid resource group name",
                "use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'",
                key="resourceGroup",
            )
        return self


# --- the whole stack ------------------------------------------------------------------------------------


class StackConfigBase(ConfigModel):
    """Everything a stack file configures but the jobs. Field aliases are the full Pulumi config keys.

    `components.job_kinds.StackConfig` adds one field per job kind (`aca-jobs:manualJobs`, ...) from the table of
    job kinds; the rules across jobs below iterate that table, so a new kind brings its own rules (`JobSettings`
    hooks) and is checked with every other kind."""

    model_config = ConfigDict(alias_generator=None)

    location: Annotated[str, Field(alias=LOCATION_KEY, min_length=1)]
    # The Azure cloud the provider deploys to (pulumi-azure-native's own key): it decides the hosts of Key Vault
    # secrets and the registry.
    cloud: Annotated[Literal["public", "usgovernment", "china"], Field(alias=CLOUD_KEY)] = DEFAULT_CLOUD
    # A single or platform stack configures its platform; a team stack names the platform stack it runs on instead.
    platform: Annotated[PlatformConfig | None, Field(alias=PLATFORM_KEY)] = None
    platform_stack: Annotated[
        Annotated[str, AfterValidator(check_platform_stack)] | None, Field(alias=PLATFORM_STACK_KEY)
    ] = None
    team: Annotated[TeamConfig | None, Field(alias=TEAM_KEY)] = None
    budget: Annotated[BudgetConfig, Field(alias=BUDGET_KEY, default_factory=BudgetConfig)]
    # A plain subscription id, needed only to name the jobs a stack adopts (see `_adoption_problems`).
    subscription_id: Annotated[str | None, Field(alias=SUBSCRIPTION_KEY)] = None

    @classmethod
    def job_keys(cls) -> dict[str, str]:
        """Field name -> full config key of every job kind's map, in the table's order."""
        return {
            name: field.alias
            for name, field in cls.model_fields.items()
            if field.alias and _job_model(field.annotation) is not None
        }

    def jobs(self) -> list[tuple[str, str, JobSettings]]:
        """(config key, job name, job) of every job of every kind: kinds in the table's order, names sorted."""
        return [
            (key, name, job)
            for field, key in self.job_keys().items()
            for name, job in sorted(getattr(self, field).items())
        ]

    @model_validator(mode="after")
    def _check_across_jobs(self) -> StackConfigBase:
        problems = self._platform_or_team_problems()
        if problems:
            raise_all(type(self).__name__, problems)
        defined_in: dict[str, str] = {}
        for key, name, _ in self.jobs():
            if name in defined_in:
                problems.append(
                    rule_error(
                        f"job `{name}` is also defined in {defined_in[name]}; a job name is its Azure name",
                        "rename one of them",
                        key=f"{key}.{name}",
                    )
                )
                continue
            defined_in[name] = key
        if self.platform is not None:
            # A team stack's jobs are checked against the platform stack's contract when the program reads it.
            problems.extend(self.problems_on(PlatformFacts.of_platform(self.platform)))
            problems.extend(self._storage_problems(self.platform))
        for key, name, job in self.jobs():
            for index, container in enumerate(job.init_containers):
                if container.name == name:
                    problems.append(
                        rule_error(
                            f"init container `{container.name}` has the job's name, which is its main container's",
                            "give the init container another name, e.g. `migrate`",
                            key=f"{key}.{name}.initContainers.{index}.name",
                        )
                    )
        problems.extend(self._adoption_problems())
        problems.extend(self._subscription_problems())
        raise_all(type(self).__name__, problems)
        return self

    def _platform_or_team_problems(self) -> list[PydanticCustomError]:
        if (self.platform is None) == (self.platform_stack is None):
            both = self.platform is not None
            return [
                rule_error(
                    "a stack either configures its platform (`aca-jobs:platform`: a single or a platform stack) or "
                    "runs on a platform stack (`aca-jobs:platformStack`: a team stack), not both"
                    if both
                    else "is required: a stack configures its platform here, or names the platform stack it runs on "
                    "(`aca-jobs:platformStack`, a team stack)",
                    f"keep `{PLATFORM_KEY}`, or `{PLATFORM_STACK_KEY}: <organization>/<project>/<stack>` with "
                    f"`{TEAM_KEY}: {{resourceGroup: <name>}}`",
                    key=PLATFORM_STACK_KEY if both else PLATFORM_KEY,
                )
            ]
        if self.platform_stack is not None and self.team is None:
            return [
                rule_error(
                    "a team stack needs its own resource group for its jobs, identities and alert rules",
                    f"add `{TEAM_KEY}: {{resourceGroup: <name>}}`",
                    key=TEAM_KEY,
                )
            ]
        if self.platform is not None and self.team is not None:
            return [
                rule_error(
                    "`team` configures a team stack, which runs on a platform stack; this stack has its own platform",
                    f"remove `{TEAM_KEY}` (the jobs go in `{PLATFORM_KEY}.resourceGroup`), or make this a team stack",
                    key=TEAM_KEY,
                )
            ]
        return []

    def problems_on(self, platform: PlatformFacts) -> list[PydanticCustomError]:
        """Every rule between this stack's jobs and the platform they run on (its own, or a platform stack's)."""
        problems: list[PydanticCustomError] = []
        for field, key in self.job_keys().items():
            jobs = getattr(self, field)
            if jobs:
                with collected(problems):
                    _job_model(type(self).model_fields[field].annotation).check_in_stack(jobs, platform, key)
        registry = platform.registry_server
        registry_suffix = CLOUDS[self.cloud].registry_suffix
        if not registry.endswith(registry_suffix):
            problems.append(
                rule_error(
                    f"registry `{registry}` is not in the stack's cloud `{self.cloud}` (`{CLOUD_KEY}`), whose "
                    f"registries end in `{registry_suffix}`",
                    f"use the registry's login server in that cloud, or set `{CLOUD_KEY}` to the cloud it is in",
                    key=f"{platform.where}.registry.server",
                )
            )
        for key, name, job in self.jobs():
            for where, container in job.containers():
                # Host names are case-insensitive (RFC 4343): `ACRSharedProd.azurecr.io` is the reviewed registry.
                host = image_registry(container.image).lower()
                if host != registry:
                    problems.append(
                        rule_error(
                            f"job `{name}` pulls `{container.image}` from `{host}`, but jobs pull only from the "
                            f"reviewed registry `{registry}` (the only one they hold a pull grant for; a port or "
                            "another spelling is another host)",
                            f"push the image to {registry} and reference it as `{registry}/<repository>:<tag>`",
                            key=".".join(part for part in (key, name, where, "image") if part),
                        )
                    )
        for key, name, job in self.jobs():
            problems.extend(self._job_on_platform_problems(key, name, job, platform))
        return problems

    def _adoption_problems(self) -> list[PydanticCustomError]:
        """An adopted job is imported at its ARM id, which names the subscription. Pulumi's `import_` option takes
        a plain string (pulumi/pulumi `sdk/python/lib/pulumi/resource.py` `ResourceOptions.import_:
        Optional[str]`, sent as the `importId` string of `RegisterResourceRequest` by `runtime/resource.py`), so
        the subscription the program reads at run time (`authorization.get_client_config`, an Output) cannot be
        used: the stack file must say it, in the key the provider itself deploys with."""
        adopting = [f"{key}.{name}.adopt" for key, name, job in self.jobs() if job.adopt]
        if not adopting:
            return []
        if self.subscription_id is None:
            return [
                rule_error(
                    f"{', '.join(adopting)} imports an existing job by its ARM id, which names the subscription, "
                    f"but the stack file does not set `{SUBSCRIPTION_KEY}`",
                    f"add `{SUBSCRIPTION_KEY}: <the subscription id the job is in>` under `config:` (the provider "
                    "then deploys to that subscription too), or remove `adopt`",
                    key=SUBSCRIPTION_KEY,
                )
            ]
        if not GUID.fullmatch(self.subscription_id):
            return [
                rule_error(
                    f"`{self.subscription_id}` is not a subscription id (a GUID), so the adopted jobs' ids "
                    f"({', '.join(adopting)}) would name no subscription",
                    f"set `{SUBSCRIPTION_KEY}` to the subscription's id, e.g. "
                    "`11111111-2222-3333-4444-555555555555` (`az account show --query id`)",
                    key=SUBSCRIPTION_KEY,
                )
            ]
        return []

    def _subscription_problems(self) -> list[PydanticCustomError]:
        """pulumi-azure-native creates a resource in the subscription it deploys to (`azure-native:subscriptionId`,
        or the logged-in one): an entity the stack creates inside an existing resource of another subscription
        would be created in a same-named resource of the wrong subscription, or fail. Checked when the stack file
        names its subscription; otherwise it is known only at deployment (README, event sources)."""
        if self.subscription_id is None or not GUID.fullmatch(self.subscription_id):
            return []
        problems = []
        for key, name, job in self.jobs():
            for where, text in job.created_in().items():
                existing = ArmId.try_parse(text)
                subscription = (existing.subscription or "").lower() if existing is not None else ""
                # The placeholder of the committed files is named by the placeholder warning instead.
                if subscription not in ("", self.subscription_id.lower(), PLACEHOLDER_SUBSCRIPTION):
                    problems.append(
                        rule_error(
                            f"`{text}` is in subscription `{subscription}`, but the stack deploys to "
                            f"`{self.subscription_id}` (`{SUBSCRIPTION_KEY}`), where it would create the job's "
                            "entities in it",
                            "use a resource of the stack's subscription, or deploy the job from a stack of that "
                            "subscription",
                            key=f"{key}.{name}.{where}",
                        )
                    )
        return problems

    def _job_on_platform_problems(
        self, key: str, name: str, job: JobSettings, platform: PlatformFacts
    ) -> list[PydanticCustomError]:
        """What one job needs from the platform: its Key Vault, its workload profile and room on it."""
        problems: list[PydanticCustomError] = []
        for secret_name, secret in sorted(job.secrets.items()):
            problems.extend(
                self._key_vault_secret_problems(
                    secret,
                    f"{key}.{name}.secrets.{secret_name}",
                    f"{key}.{name}.secrets.{secret_name}.keyVaultSecretUrl",
                    f"job `{name}` reads Key Vault secrets",
                    platform,
                )
            )
        for volume_name, volume in sorted(job.volumes.items()):
            if volume.storage is not None and volume.storage not in platform.storages:
                problems.append(
                    rule_error(
                        f"volume `{volume_name}` mounts storage `{volume.storage}`, which the environment does not "
                        "register"
                        + (
                            f" (registered: {', '.join(f'`{s}`' for s in platform.storages)})"
                            if platform.storages
                            else ""
                        ),
                        f"add it under {platform.storages_key} (`{volume.storage}: {{accountId, share, accessMode, "
                        "accountKeySecretUrl}`), or name a registered storage",
                        key=f"{key}.{name}.volumes.{volume_name}.storage",
                    )
                )
        profile = None
        if job.workload_profile != CONSUMPTION:
            profile = platform.workload_profile(job.workload_profile)
            if profile is None:
                listed = [CONSUMPTION, *(p.name for p in platform.workload_profiles)]
                same = [n for n in listed if n.lower() == job.workload_profile.lower()]
                problems.append(
                    rule_error(
                        f"`{job.workload_profile}` is not a workload profile of the environment"
                        + (" (names are matched exactly)" if same else ""),
                        (f"did you mean `{same[0]}`? " if same else "")
                        + "use one of "
                        + ", ".join(f"`{n}`" for n in listed)
                        + f", or add it under {platform.profiles_key}",
                        key=f"{key}.{name}.workloadProfile",
                    )
                )
                return problems  # sizes and room are the profile's: nothing more to check without it
        try:
            check_resources(job.cpu, job.memory, profile)
        except PydanticCustomError as error:
            problems.append(
                rule_error(error.message(), error.context["fix"], key=f"{key}.{name}.{error.context['key']}")
            )
            return problems  # room is counted in valid sizes
        cores, how, lever = job.peak_cores()
        capacity, what = platform.capacity(profile)
        if cores > capacity:
            problems.append(
                rule_error(
                    f"{how} = {cores:g} cores exceeds {what}; executions would fail (or wait) for lack of cores",
                    f"lower {lever} or cpu, or raise {platform.capacity_key(profile)}",
                    key=f"{key}.{name}.{lever}",
                )
            )
        return problems

    def _key_vault_secret_problems(
        self, secret: KeyVaultSecret, where: str, url_key: str, reader: str, platform: PlatformFacts
    ) -> list[PydanticCustomError]:
        """A Key Vault secret the platform reads (a job secret, an environment storage's account key) must be in the
        platform's vault, in the stack's cloud: the reading identity is granted there only. `where` is the secret's
        key, `url_key` the key of its URL."""
        vault = platform.key_vault_name
        suffix = CLOUDS[self.cloud].key_vault_suffix
        if vault is None:
            return [
                rule_error(
                    f"{reader}, but {platform.where} names no Key Vault",
                    f"add `keyVault: {{resourceId: /subscriptions/<sub>/resourceGroups/<rg>/providers/"
                    f"Microsoft.KeyVault/vaults/<name>}}` under {platform.where}",
                    key=where,
                )
            ]
        if secret.host_suffix != suffix:
            return [
                rule_error(
                    f"`{secret.key_vault_secret_url}` is a Key Vault of another cloud than the stack's "
                    f"`{self.cloud}` (`{CLOUD_KEY}`), whose vaults end in `{suffix}`: Container Apps could not "
                    "read it",
                    f"use https://{vault.lower()}{suffix}/secrets/{secret.secret_name}, or set "
                    f"`{CLOUD_KEY}` to the cloud the stack deploys to",
                    key=url_key,
                )
            ]
        if secret.vault_name.lower() != vault.lower():
            return [
                rule_error(
                    f"`{secret.key_vault_secret_url}` is in vault `{secret.vault_name}`, not the stack's vault "
                    f"`{vault}`: the reading identity is granted only on the stack's vault",
                    f"move the secret to `{vault}` and use https://{vault.lower()}{suffix}/secrets/"
                    f"{secret.secret_name}, or change {platform.where}.keyVault",
                    key=url_key,
                )
            ]
        return []

    def _storage_problems(self, platform: PlatformConfig) -> list[PydanticCustomError]:
        """Each environment storage's account key secret, in the platform's vault and the stack's cloud."""
        facts = PlatformFacts.of_platform(platform)
        problems = []
        for name, storage in sorted(platform.environment.storages.items()):
            problems.extend(
                self._key_vault_secret_problems(
                    storage.account_key_secret,
                    f"{PLATFORM_KEY}.environment.storages.{name}",
                    f"{PLATFORM_KEY}.environment.storages.{name}.accountKeySecretUrl",
                    f"storage `{name}` reads its account key from Key Vault",
                    facts,
                )
            )
        return problems

    @property
    def service_bus_local_auth(self) -> bool:
        """SAS (local) auth stays off unless a job explicitly chose the connection-string fallback."""
        return any(job.needs_service_bus_local_auth for _, _, job in self.jobs())

    def placeholder_ids(self) -> list[str]:
        """Config keys whose Azure ids still hold the all-zero subscription of the committed stack files (a `<...>`
        placeholder is not an ARM id, so the id's own rule refuses it)."""
        platform = self.platform
        ids = (
            {}
            if platform is None
            else {
                f"{PLATFORM_KEY}.registry.resourceId": platform.registry.resource_id,
                f"{PLATFORM_KEY}.keyVault.resourceId": platform.key_vault.resource_id if platform.key_vault else "",
                f"{PLATFORM_KEY}.alerts.actionGroupId": (platform.alerts.action_group_id or "")
                if platform.alerts
                else "",
            }
        )
        for key, name, job in self.jobs():
            for index, grant in enumerate(job.azure_access):
                ids[f"{key}.{name}.azureAccess.{index}.scope"] = grant.scope
            for where, text in job.created_in().items():
                ids[f"{key}.{name}.{where}"] = text
        return [key for key, value in ids.items() if PLACEHOLDER_SUBSCRIPTION in value]

    def warnings(self) -> list[str]:
        """Valid but risky choices, shown by every preview."""
        found = []
        placeholders = self.placeholder_ids()
        if placeholders:
            found.append(
                "these ids still hold a placeholder (the all-zero subscription), so a real deployment "
                "would fail or grant on the wrong resource: " + ", ".join(placeholders) + ". Replace them with your "
                "resources' ids (docs/first-deployment.md)."
            )
        if self.platform is not None:
            found.extend(self.storm_warnings(PlatformFacts.of_platform(self.platform)))
        for _, name, job in self.jobs():
            found.extend(job.warnings(name))
        return found

    def storm_warnings(self, platform: PlatformFacts) -> list[str]:
        """All jobs of a profile at their peak together, against the cores the stack may use there."""
        found = []
        profiles: dict[str, list[JobSettings]] = {}
        for _, _, job in self.jobs():
            profiles.setdefault(job.workload_profile, []).append(job)
        for profile_name, jobs in profiles.items():
            profile = platform.workload_profile(profile_name)  # None: the Consumption profile
            total = sum(job.peak_cores()[0] for job in jobs)
            capacity, what = platform.capacity(profile)
            if total > capacity:
                found.append(
                    f"all jobs on the {profile_name} profile at their peak together could use {total:g} cores, above "
                    f"{what}: executions started past it fail or wait. Lower maxExecutions, parallelism or cpu, or "
                    f"raise {platform.capacity_key(profile)}."
                )
        return found


def _job_model(annotation: Any) -> type[JobSettings] | None:
    """The job model of a `dict[<name>, <JobSettings subclass>]` field, else None."""
    args = get_args(annotation)
    model = args[1] if len(args) == 2 else None
    return model if isinstance(model, type) and issubclass(model, JobSettings) else None
