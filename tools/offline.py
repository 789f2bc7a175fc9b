"""Run the real `__main__.py` under the Pulumi SDK's mock runtime, offline, and record what it registers.

Used by `tools.preview` and by the tests, so both see exactly the same registrations:
- `AzureMocks` answers like Azure would: every azure-native resource gets a realistic ARM id built from its
  type, resource group and name, plus the computed outputs the program reads (principal ids, customer ids);
- `RecordingMonitor` keeps each registration as the engine receives it: type, name, parent, inputs (camelCase,
  secrets marked), dependencies, property dependencies and `protect`.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks
from pulumi.runtime.sync_await import _sync_await

from components.stack_config import STACK_FILE_ENV

PROJECT_DIR = Path(__file__).resolve().parent.parent
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_TENANT = "11111111-1111-1111-1111-111111111111"

# Wire encodings of the Pulumi property protocol.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_MARK = "[secret]"
UNKNOWN_MARK = "[unknown]"

# ARM path of each azure-native type: provider namespace and (resource type segment, input naming it) pairs.
# Resource-group-scoped unless noted; role assignments live below their scope.
ARM_PATHS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "azure-native:operationalinsights:Workspace": (
        "Microsoft.OperationalInsights",
        [("workspaces", "workspaceName")],
    ),
    "azure-native:app:ManagedEnvironment": ("Microsoft.App", [("managedEnvironments", "environmentName")]),
    "azure-native:app:Job": ("Microsoft.App", [("jobs", "jobName")]),
    "azure-native:managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity",
        [("userAssignedIdentities", "resourceName")],
    ),
    "azure-native:servicebus:Namespace": ("Microsoft.ServiceBus", [("namespaces", "namespaceName")]),
    "azure-native:servicebus:Queue": (
        "Microsoft.ServiceBus",
        [("namespaces", "namespaceName"), ("queues", "queueName")],
    ),
    "azure-native:servicebus:QueueAuthorizationRule": (
        "Microsoft.ServiceBus",
        [
            ("namespaces", "namespaceName"),
            ("queues", "queueName"),
            ("authorizationRules", "authorizationRuleName"),
        ],
    ),
}


def _stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mock:" + "/".join(parts)))


class AzureMocks(mocks.Mocks):
    """Offline stand-in for the azure-native provider."""

    def __init__(self, subscription_id: str = PLACEHOLDER_SUBSCRIPTION) -> None:
        self.subscription_id = subscription_id

    def arm_id(self, type_: str, inputs: Mapping[str, Any]) -> str:
        if type_ == "azure-native:resources:ResourceGroup":
            return f"/subscriptions/{self.subscription_id}/resourceGroups/{inputs['resourceGroupName']}"
        if type_ == "azure-native:authorization:RoleAssignment":
            name = inputs["roleAssignmentName"]
            return f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}"
        if type_ not in ARM_PATHS:
            raise KeyError(f"no ARM path for {type_}: add it to tools/offline.py ARM_PATHS")
        namespace, segments = ARM_PATHS[type_]
        path = "/".join(f"{segment}/{inputs[key]}" for segment, key in segments)
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{inputs['resourceGroupName']}"
            f"/providers/{namespace}/{path}"
        )

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.typ.startswith("azure-native:"):
            return f"{args.name}-id", dict(args.inputs)
        resource_id = self.arm_id(args.typ, args.inputs)
        outputs: dict[str, Any] = {**args.inputs, "name": resource_id.rsplit("/", 1)[-1]}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            outputs |= {
                "principalId": _stable_guid("principal", resource_id),
                "clientId": _stable_guid("client", resource_id),
                "tenantId": PLACEHOLDER_TENANT,
            }
        elif args.typ == "azure-native:operationalinsights:Workspace":
            outputs["customerId"] = _stable_guid("workspace", resource_id)
        elif args.typ == "azure-native:app:Job":
            # Azure answers a list of user-assigned identity ids with a map keyed by id.
            identity = dict(outputs.get("identity") or {})
            identity["userAssignedIdentities"] = {i: {} for i in identity.get("userAssignedIdentities") or []}
            outputs["identity"] = identity
        elif args.typ == "azure-native:servicebus:Namespace":
            outputs["serviceBusEndpoint"] = f"https://{outputs['name']}.servicebus.windows.net:443/"
        return resource_id, outputs

    def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "azure-native:operationalinsights:getSharedKeys":
            return {"primarySharedKey": "mock-primary-key", "secondarySharedKey": "mock-secondary-key"}
        if args.token == "azure-native:servicebus:listQueueKeys":
            ns, queue, rule = (
                args.args["namespaceName"],
                args.args["queueName"],
                args.args["authorizationRuleName"],
            )
            connection = (
                f"Endpoint=sb://{ns}.servicebus.windows.net/;SharedAccessKeyName={rule};"
                f"SharedAccessKey=mock-key;EntityPath={queue}"
            )
            return {"primaryConnectionString": connection, "primaryKey": "mock-key", "keyName": rule}
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": self.subscription_id,
                "tenantId": PLACEHOLDER_TENANT,
                "clientId": _stable_guid("deployer"),
                "objectId": _stable_guid("deployer-object"),
            }
        raise KeyError(f"no mock for invoke {args.token}: add it to tools/offline.py AzureMocks.call")


@dataclass(frozen=True)
class Registration:
    """One resource as the engine received it."""

    urn: str
    type: str
    name: str
    id: str | None
    custom: bool
    parent: str
    wire_inputs: dict[str, Any]  # exactly as received (secrets signed, numbers as floats), for analyzers
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool

    @cached_property
    def inputs(self) -> dict[str, Any]:
        """Display form: camelCase, integers as integers, secrets as "[secret]"."""
        return _display(self.wire_inputs, reveal=False)

    @cached_property
    def plain_inputs(self) -> dict[str, Any]:
        """The same with secrets revealed, for assertions on what a secret holds."""
        return _display(self.wire_inputs, reveal=True)

    @cached_property
    def secret_paths(self) -> frozenset[str]:
        """Dotted paths of the input values the engine received as secrets."""
        return frozenset(_secret_paths(self.wire_inputs))

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "parent": self.parent,
            "inputs": self.inputs,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "protect": self.protect,
        }


def _display(value: Any, reveal: bool) -> Any:
    """Wire value -> JSON: secrets marked (or revealed), unknowns marked, integral numbers as integers."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return _display(value.get("value"), reveal) if reveal else SECRET_MARK
        return {key: _display(item, reveal) for key, item in value.items()}
    if isinstance(value, list):
        return [_display(item, reveal) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN:
        return UNKNOWN_MARK
    return value


def _secret_paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            yield path
            return
        for key, item in value.items():
            yield from _secret_paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(item, f"{path}[{index}]")


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mocks_: mocks.Mocks, on_register: Callable[[Registration], None] | None = None) -> None:
        super().__init__(mocks_)
        self.stack_urn = ""
        self.registrations: list[Registration] = []
        self.on_register = on_register

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        wire = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            id=(response.id or None) if request.custom else None,  # components have no id
            custom=request.custom,
            parent=request.parent,
            wire_inputs=wire,
            dependencies=sorted(request.dependencies),
            property_dependencies={
                key: sorted(deps.urns) for key, deps in sorted(request.propertyDependencies.items())
            },
            protect=request.protect,
        )
        self.registrations.append(registration)
        if self.on_register is not None:
            self.on_register(registration)
        return response


@dataclass
class ProgramRun:
    project: str
    stack: str
    stack_urn: str
    resources: list[Registration]
    outputs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def as_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
            "warnings": self.warnings,
        }


class _WarningCollector(logging.Handler):
    """Collects what the program logs with `pulumi.log.warn` (the mock engine logs it here)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _clean_pulumi_environment(stack_file: str | None) -> Iterator[None]:
    # Leftover PULUMI_CONFIG* variables would leak another stack's config into this run.
    saved = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_CONFIG") or k == STACK_FILE_ENV}
    for key in saved:
        del os.environ[key]
    if stack_file:
        os.environ[STACK_FILE_ENV] = stack_file
    try:
        yield
    finally:
        os.environ.pop(STACK_FILE_ENV, None)
        os.environ.update(saved)


def _resolve_output(value: Any) -> Any:
    """An exported value as JSON, with secrets and unknowns marked."""
    output = pulumi.Output.from_input(value)

    async def resolve() -> tuple[Any, bool, bool]:
        return await output.future(with_unknowns=True), await output.is_known(), await output.is_secret()

    resolved, known, secret = _sync_await(resolve())
    if secret:
        return SECRET_MARK
    if not known:
        return UNKNOWN_MARK
    return json.loads(json.dumps(resolved, default=str))


def run_program(
    config: Mapping[str, Any],
    stack: str,
    *,
    project: str = "aca-jobs",
    stack_file: str | None = None,
    project_dir: Path = PROJECT_DIR,
    preview: bool = True,
    program: Path | None = None,
    on_register: Callable[[Registration], None] | None = None,
) -> ProgramRun:
    """Run `__main__.py` with `config` (keys like `aca-jobs:platform`, values as in YAML) and return what it
    registered. Exceptions from the program (e.g. `StackConfigError`) propagate after the runtime settles."""
    wire_config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    subscription = str(config.get("azure-native:subscriptionId") or PLACEHOLDER_SUBSCRIPTION)
    monitor = RecordingMonitor(AzureMocks(subscription), on_register)
    warnings = _WarningCollector()
    logger = logging.getLogger(f"aca-jobs.offline.{id(warnings)}")
    logger.propagate = False
    logger.addHandler(warnings)
    with _clean_pulumi_environment(stack_file):
        pulumi.runtime.reset_options(project=project, stack=stack, preview=preview)
        mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=logger)
        pulumi.runtime.set_all_config(wire_config)
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        program_path = str(program or project_dir / "__main__.py")
        _sync_await(mocks.run_pulumi_func(lambda: runpy.run_path(program_path, run_name="__main__")))
        root = pulumi.runtime.get_root_resource()
        exported = dict(getattr(root, "outputs", {}) or {})
        outputs = {key: _resolve_output(exported[key]) for key in sorted(exported)}
    return ProgramRun(
        project=project,
        stack=stack,
        stack_urn=monitor.stack_urn,
        resources=sorted(monitor.registrations, key=lambda r: r.urn),
        outputs=outputs,
        warnings=warnings.messages,
    )
