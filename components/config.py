"""The stack-config contract: typed models, their defaults and every validation rule.

These models are the single source of truth for what a stack file may say. Components receive validated
models and never re-validate. Keys are camelCase, exactly as written in `Pulumi.<stack>.yaml`.

A rule that a user can break raises `rule_error(...)`, which carries the problem and the fix in the user's
own terms; `components.stack_config` turns those into messages that name the stack file and the YAML key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

PROJECT = "aca-jobs"
LOCATION_KEY = "azure-native:location"
PLATFORM_KEY = f"{PROJECT}:platform"

# --- rule errors -----------------------------------------------------------------------------------------

RULE_ERROR = "aca_jobs_rule"


def rule_error(problem: str, fix: str, key: str | None = None) -> PydanticCustomError:
    """A broken rule. `key` names the offending key below the validated object (for cross-field rules)."""
    return PydanticCustomError(RULE_ERROR, "{problem}", {"problem": problem, "fix": fix, "key": key})


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


def check_env_names(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not _ENV_NAME.fullmatch(name):
            raise rule_error(
                f"`{name}` is not a valid environment variable name",
                "use letters, digits and '_', not starting with a digit",
                key=name,
            )
    return env


EnvironmentVariables = Annotated[dict[str, str], AfterValidator(check_env_names)]

# --- CPU and memory -------------------------------------------------------------------------------------

# A Consumption-only environment (the kind the platform creates) accepts 0.25 vCPU / 0.5Gi up to 2 vCPU / 4Gi
# in 0.25 vCPU steps, always 1 vCPU : 2 GiB.
CPU_STEP = Decimal("0.25")
CPU_MAX = Decimal("2.0")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)Gi$")


def consumption_pairs() -> str:
    steps = [CPU_STEP * n for n in range(1, int(CPU_MAX / CPU_STEP) + 1)]
    return ", ".join(f"{s.normalize():f}/{(s * 2).normalize():f}Gi" for s in steps)


# --- platform ---------------------------------------------------------------------------------------------

_REGISTRY_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.ContainerRegistry/registries/(?P<name>[A-Za-z0-9]{5,50})$",
    re.IGNORECASE,
)
_LOGIN_SERVER = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(io|cn|us)$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$")


class RegistryConfig(ConfigModel):
    """The Azure Container Registry every job pulls from, through its own managed identity."""

    server: str
    resource_id: str

    @model_validator(mode="after")
    def _check(self) -> RegistryConfig:
        if not _LOGIN_SERVER.fullmatch(self.server):
            raise rule_error(
                f"`{self.server}` is not an Azure Container Registry login server",
                "use the registry's login server, e.g. `acrsharedprod.azurecr.io`",
                key="server",
            )
        match = _REGISTRY_ID.fullmatch(self.resource_id)
        if match is None:
            raise rule_error(
                f"`{self.resource_id}` is not a container registry resource id",
                "use /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/"
                "registries/<name> (`az acr show -n <name> --query id -o tsv`)",
                key="resourceId",
            )
        if self.server.split(".")[0] != match["name"].lower():
            raise rule_error(
                f"`{self.server}` is not the login server of registry `{match['name']}`, so AcrPull would be "
                "granted on a different registry than the one images are pulled from",
                f"make them name the same registry, e.g. server `{match['name'].lower()}.azurecr.io`",
                key="server",
            )
        return self


class EnvironmentConfig(ConfigModel):
    """The Container Apps environment (Consumption-only) and its Log Analytics workspace."""

    name: ContainerAppsName
    log_retention_days: Annotated[int, Field(ge=30, le=730)] = 30
    core_quota: Annotated[int, Field(ge=1)] = 100
    # Stable physical name of the workspace; defaults to `log-<resource group>` (see PlatformConfig.workspace).
    workspace_name: str | None = None

    @model_validator(mode="after")
    def _check(self) -> EnvironmentConfig:
        if self.workspace_name is not None and not _WORKSPACE.fullmatch(self.workspace_name):
            raise rule_error(
                f"`{self.workspace_name}` is not a valid Log Analytics workspace name",
                "use 4-63 letters, digits and '-', starting and ending with a letter or digit",
                key="workspaceName",
            )
        return self


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


class ServiceBusConfig(ConfigModel):
    """The Service Bus namespace this stack creates for its event-driven jobs."""

    namespace: Annotated[str, AfterValidator(normalize_namespace)]
    sku: Literal["Basic", "Standard", "Premium"] = "Standard"

    @property
    def host_name(self) -> str:
        return self.namespace + SERVICE_BUS_HOST_SUFFIX


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

    @model_validator(mode="after")
    def _check(self) -> PlatformConfig:
        if not _RESOURCE_GROUP.fullmatch(self.resource_group):
            raise rule_error(
                f"`{self.resource_group}` is not a valid resource group name",
                "use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'",
                key="resourceGroup",
            )
        return self


# --- jobs -------------------------------------------------------------------------------------------------


class JobSettings(ConfigModel):
    """Settings every job kind shares: image, replicas, retries, timeout, resources, environment.

    The rules here (pinned image, retries only when idempotent, n-of-m only by choice, a valid
    CPU/memory pair) apply unchanged to every job kind.
    """

    image: ImageReference
    parallelism: Annotated[int, Field(ge=1)] = 1
    replica_completion_count: Annotated[int, Field(ge=1)] = 1
    # Set when fewer successful replicas than `parallelism` is the intended outcome ("n-of-m").
    allow_partial_completion: bool = False
    replica_retry_limit: Annotated[int, Field(ge=0)] = 0
    # Set when re-running a replica cannot duplicate side effects; allows replicaRetryLimit above 1.
    idempotent: bool = False
    replica_timeout: Annotated[int, Field(ge=1)] = 1800
    cpu: float = 0.5
    memory: str = "1Gi"
    env: EnvironmentVariables = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_job_rules(self) -> JobSettings:
        if self.replica_completion_count < self.parallelism and not self.allow_partial_completion:
            raise rule_error(
                f"replicaCompletionCount {self.replica_completion_count} is below parallelism "
                f"{self.parallelism}: an execution would succeed while replicas still fail (n-of-m)",
                f"set replicaCompletionCount to {self.parallelism}, or set `allowPartialCompletion: true` "
                "if the extra replicas are deliberate redundancy",
                key="replicaCompletionCount",
            )
        if self.replica_retry_limit > 1 and not self.idempotent:
            raise rule_error(
                f"replicaRetryLimit {self.replica_retry_limit} re-runs a failed replica more than once, "
                "which repeats its side effects",
                "lower replicaRetryLimit to 0 or 1, or set `idempotent: true` if re-running is safe",
                key="replicaRetryLimit",
            )
        self._check_resources()
        return self

    def _check_resources(self) -> None:
        cpu = Decimal(str(self.cpu))
        if cpu <= 0 or cpu > CPU_MAX or cpu % CPU_STEP != 0:
            raise rule_error(
                f"cpu {self.cpu} is not a Consumption size",
                f"use a multiple of {CPU_STEP} from {CPU_STEP} to {CPU_MAX} with memory twice as many Gi "
                f"({consumption_pairs()})",
                key="cpu",
            )
        memory = _MEMORY.fullmatch(self.memory)
        if memory is None or Decimal(memory[1]) != cpu * 2:
            raise rule_error(
                f"cpu {self.cpu} with memory {self.memory} is not a valid Consumption pair",
                f"set memory to `{(cpu * 2).normalize():f}Gi` (always 1 vCPU : 2Gi; pairs: {consumption_pairs()})",
                key="memory",
            )

    def peak_cores(self) -> tuple[float, str, str]:
        """Cores this job can hold at once, how that is computed, and the key to lower."""
        cores = self.parallelism * self.cpu
        return cores, f"parallelism {self.parallelism} x cpu {self.cpu}", "parallelism"

    # Hooks a job kind overrides for what is its own; the stack calls them for every kind.

    @classmethod
    def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformConfig, key: str) -> None:
        """Rules across this kind's jobs (`key` is the kind's config key) and the platform; raise `rule_error`
        with the full key path."""

    def warnings(self, name: str) -> list[str]:
        """Valid but risky choices of this job, shown by every preview."""
        return []

    @property
    def needs_service_bus_local_auth(self) -> bool:
        """Whether this job needs the namespace's SAS (local) auth left on."""
        return False


class ManualJobConfig(JobSettings):
    """A job an operator starts on demand (backfill, repair, replay)."""


_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
_QUEUE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9])?$")
LOCK_DURATION_MAX_SECONDS = 300
# Basic namespaces keep messages at most 14 days (Azure/azure-service-bus issue 306).
BASIC_TTL_MAX_SECONDS = 14 * 86400
# Environment variables the event job sets for the workload; a user value would silently override them.
WORKLOAD_ENV = ("AZURE_CLIENT_ID", "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE", "SERVICEBUS_QUEUE_NAME")


def duration_seconds(value: str) -> float | None:
    """Seconds in an ISO-8601 duration of days/hours/minutes/seconds (`PT1M`, `P14D`), or None."""
    match = _DURATION.fullmatch(value)
    if match is None or value in ("P", "PT") or value.endswith("T"):
        return None
    d, h, m, s = (float(match[g] or 0) for g in ("d", "h", "m", "s"))
    return d * 86400 + h * 3600 + m * 60 + s


def check_queue_name(name: str) -> str:
    """Service Bus entity names are case-insensitive: `Orders` and `orders` are one queue. The name is kept in
    lower case, so that two spellings cannot become two resources (and two scalers) for one queue, and changing
    only the case changes nothing (no new logical name, no replacement)."""
    if not _QUEUE.fullmatch(name):
        raise rule_error(
            f"`{name}` is not a Service Bus queue name",
            "use 1-260 letters, digits, '.', '-' and '_', starting and ending with a letter or digit",
        )
    return name.lower()


class EventJobConfig(JobSettings):
    """A job whose executions a KEDA `azure-servicebus` scale rule starts as the queue backlog grows."""

    queue: Annotated[str, AfterValidator(check_queue_name)]
    # Messages per execution: the scaler starts ceil(activeMessages / messageCount) executions.
    message_count: Annotated[int, Field(ge=1)]
    activation_message_count: Annotated[int, Field(ge=0)] = 0
    polling_interval: Annotated[int, Field(ge=1)] = 30
    min_executions: Annotated[int, Field(ge=0)] = 0
    max_executions: Annotated[int, Field(ge=1)] = 10
    # `connectionString` is the visible, weaker fallback: a SAS rule and a secret instead of an identity.
    auth: Literal["managedIdentity", "connectionString"] = "managedIdentity"
    max_delivery_count: Annotated[int, Field(ge=1)] = 10
    lock_duration: str = "PT1M"
    message_time_to_live: str | None = None

    @model_validator(mode="after")
    def _check_event_rules(self) -> EventJobConfig:
        if self.min_executions > self.max_executions:
            raise rule_error(
                f"minExecutions {self.min_executions} is above maxExecutions {self.max_executions}",
                f"lower minExecutions to at most {self.max_executions}, or raise maxExecutions",
                key="minExecutions",
            )
        lock = duration_seconds(self.lock_duration)
        if lock is None or not 0 < lock <= LOCK_DURATION_MAX_SECONDS:
            raise rule_error(
                f"lockDuration `{self.lock_duration}` is not an ISO-8601 duration up to PT5M",
                "use e.g. `PT30S`, `PT1M` or `PT5M` (Service Bus allows at most 5 minutes; renew the lock "
                "from code for longer work)",
                key="lockDuration",
            )
        if self.message_time_to_live is not None:
            ttl = duration_seconds(self.message_time_to_live)
            if ttl is None or ttl <= 0:
                raise rule_error(
                    f"messageTimeToLive `{self.message_time_to_live}` is not an ISO-8601 duration",
                    "use e.g. `P14D` or `PT12H`",
                    key="messageTimeToLive",
                )
        for name in WORKLOAD_ENV:
            if name in self.env:
                raise rule_error(
                    f"`{name}` is set by the event job for its workload identity and queue",
                    f"remove env.{name}; the job sets it",
                    key=f"env.{name}",
                )
        return self

    def peak_cores(self) -> tuple[float, str, str]:
        cores = self.max_executions * self.parallelism * self.cpu
        how = f"maxExecutions {self.max_executions} x parallelism {self.parallelism} x cpu {self.cpu}"
        return cores, how, "maxExecutions"

    @classmethod
    def check_in_stack(cls, jobs: Mapping[str, Self], platform: PlatformConfig, key: str) -> None:
        if platform.service_bus is None:
            raise rule_error(
                f"is required when {key} has jobs",
                f"add `serviceBus: {{namespace: <name>, sku: Standard}}` under {PLATFORM_KEY}",
                key=f"{PLATFORM_KEY}.serviceBus",
            )
        owners: dict[str, str] = {}
        for name, job in sorted(jobs.items()):
            if job.queue in owners:
                raise rule_error(
                    f"queue `{job.queue}` is already consumed by `{owners[job.queue]}`; two jobs on one "
                    "queue would compete for its messages and double-count its backlog",
                    "give this job its own queue",
                    key=f"{key}.{name}.queue",
                )
            owners[job.queue] = name
        if platform.service_bus.sku == "Basic":
            for name, job in sorted(jobs.items()):
                ttl = duration_seconds(job.message_time_to_live) if job.message_time_to_live else None
                if ttl is not None and ttl > BASIC_TTL_MAX_SECONDS:
                    raise rule_error(
                        f"messageTimeToLive `{job.message_time_to_live}` is above 14 days, which a Basic namespace "
                        "refuses (ARM: 'must be between 00:00:01 and 14.00:00:00 when the namespace ... is using "
                        "Basic tier')",
                        f"use at most `P14D`, or `sku: Standard` under {PLATFORM_KEY}.serviceBus",
                        key=f"{key}.{name}.messageTimeToLive",
                    )

    def warnings(self, name: str) -> list[str]:
        if self.auth != "connectionString":
            return []
        return [
            f"event job `{name}` uses `auth: connectionString`: its scaler reads queue `{self.queue}` with a SAS key "
            "kept as a job secret, and the Service Bus namespace keeps local (SAS) auth enabled. Prefer "
            "`auth: managedIdentity`."
        ]

    @property
    def needs_service_bus_local_auth(self) -> bool:
        return self.auth == "connectionString"


# --- the whole stack ------------------------------------------------------------------------------------


class StackConfigBase(ConfigModel):
    """Everything a stack file configures but the jobs. Field aliases are the full Pulumi config keys.

    `components.job_kinds.StackConfig` adds one field per job kind (`aca-jobs:manualJobs`, ...) from the table of
    job kinds; the rules across jobs below iterate that table, so a new kind brings its own rules (`JobSettings`
    hooks) and is checked with every other kind."""

    model_config = ConfigDict(alias_generator=None)

    location: Annotated[str, Field(alias=LOCATION_KEY, min_length=1)]
    platform: Annotated[PlatformConfig, Field(alias=PLATFORM_KEY)]

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
        for field, key in self.job_keys().items():
            jobs = getattr(self, field)
            if jobs:
                _job_model(type(self).model_fields[field].annotation).check_in_stack(jobs, self.platform, key)
        defined_in: dict[str, str] = {}
        for key, name, _ in self.jobs():
            if name in defined_in:
                raise rule_error(
                    f"job `{name}` is also defined in {defined_in[name]}; a job name is its Azure name",
                    "rename one of them",
                    key=f"{key}.{name}",
                )
            defined_in[name] = key
        registry = self.platform.registry.server
        for key, name, job in self.jobs():
            host = image_registry(job.image)
            if host != registry:
                raise rule_error(
                    f"job `{name}` pulls `{job.image}` from `{host}`, but jobs pull only from the reviewed registry "
                    f"`{registry}` (the only one they hold a pull grant for; a port or another spelling is another "
                    "host)",
                    f"push the image to {registry} and reference it as `{registry}/<repository>:<tag>`",
                    key=f"{key}.{name}.image",
                )
        quota = self.platform.environment.core_quota
        for key, name, job in self.jobs():
            cores, how, lever = job.peak_cores()
            if cores > quota:
                raise rule_error(
                    f"{how} = {cores:g} cores exceeds the environment's coreQuota of {quota}; executions "
                    "would fail with 'Maximum Allowed Cores exceeded'",
                    f"lower {lever} or cpu, or raise aca-jobs:platform.environment.coreQuota after raising "
                    "the quota in Azure",
                    key=f"{key}.{name}.{lever}",
                )
        return self

    @property
    def service_bus_local_auth(self) -> bool:
        """SAS (local) auth stays off unless a job explicitly chose the connection-string fallback."""
        return any(job.needs_service_bus_local_auth for _, _, job in self.jobs())

    def warnings(self) -> list[str]:
        """Valid but risky choices, shown by every preview."""
        found = []
        quota = self.platform.environment.core_quota
        total = sum(job.peak_cores()[0] for _, _, job in self.jobs())
        if total > quota:
            found.append(
                f"all jobs at their peak together could use {total:g} cores, above the environment's "
                f"coreQuota of {quota}: executions started past the quota fail. Lower maxExecutions, "
                "parallelism or cpu, or raise aca-jobs:platform.environment.coreQuota."
            )
        for _, name, job in self.jobs():
            found.extend(job.warnings(name))
        return found


def _job_model(annotation: Any) -> type[JobSettings] | None:
    """The job model of a `dict[<name>, <JobSettings subclass>]` field, else None."""
    args = get_args(annotation)
    model = args[1] if len(args) == 2 else None
    return model if isinstance(model, type) and issubclass(model, JobSettings) else None
