"""Run the real `__main__.py` under the Pulumi SDK's mock runtime, offline, and record what the engine would see.

Used by `tools.preview` and by the tests, so both see exactly the same registrations. Two things are modelled,
each after its source:

- **the engine** (`RecordingMonitor`): URNs carry the full chain of parent types, the root stack's type left out
  (pulumi/pulumi `pkg/resource/deploy/deployment.go` `generateURN`, `sdk/go/common/resource/urn/urn.go` `New`);
  each registration keeps the inputs exactly as received (secrets signed, unknowns as the unknown sentinel,
  numbers as floats) for `Analyze`, and the provider's answer as the outputs `AnalyzeStack` reads
  (`pkg/resource/deploy/step_generator.go` `AnalyzeResources`: "AnalyzeStack is called on the final outputs of
  each resource"), with secrets annotated as the engine does; components and the stack keep the outputs they
  register (`RegisterResourceOutputs`).
- **the azure-native provider** (`AzureMocks`, shapes from `tools.provider_model`), in one of two modes:
  - `new-stack` (the default, and the strictest): every create is answered as a real `pulumi preview` of a new
    stack answers it (`previewOutputs.go`): no id, inputs copied into the output shape where the shapes match,
    everything else unknown. Values Azure computes (ids, `principalId`, `clientId`, `customerId`) are unknown,
    and so is every input built from them;
  - `deployed`: known, ARM-like outputs (realistic ids, output shape, no path parameters), as a preview of an
    unchanged deployed stack reads them from the state.

Not modelled: diffs against real state (every resource is a create), provider-side defaults that Azure fills in,
azure-native's `Check`, default providers, and the third shape a real preview has (an update of a deployed
resource answers preview outputs plus the old `name` and `location`).
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
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks, rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import massage
from pulumi.runtime.sync_await import _sync_await

from components.stack_config import STACK_FILE_ENV
from tools.provider_model import (
    SECRET_SIG,
    SECRET_SIG_KEY,
    UNKNOWN,
    annotate_secrets,
    deployed_outputs,
    preview_outputs,
    reveal,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_TENANT = "11111111-1111-1111-1111-111111111111"

NEW_STACK = "new-stack"
DEPLOYED = "deployed"
MODES = (NEW_STACK, DEPLOYED)

SECRET_MARK = "[secret]"
# How `pulumi preview` prints a value it cannot know yet (pulumi/pulumi `pkg/backend/display/object_diff.go`
# `printPrimitivePropertyValue`: "[unknown]", since v3.163.0); `--json` keeps the wire sentinel itself
# (`pkg/resource/stack/deployment.go` `SerializePropertyValue`: `computedValuePlaceholder`).
UNKNOWN_DISPLAY = "[unknown]"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


class StackReferenceError(KeyError):
    """A `StackReference` to a stack whose outputs the offline run was not given."""

    def __init__(self, stack: str) -> None:
        super().__init__(stack)
        self.stack = stack


# ARM path of each azure-native type: provider namespace and (resource type segment, input naming it) pairs.
# Resource-group-scoped unless noted; role assignments live below their scope.
ARM_PATHS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "azure-native:operationalinsights:Workspace": (
        "Microsoft.OperationalInsights",
        [("workspaces", "workspaceName")],
    ),
    "azure-native:app:ManagedEnvironment": ("Microsoft.App", [("managedEnvironments", "environmentName")]),
    "azure-native:app:Job": ("Microsoft.App", [("jobs", "jobName")]),
    # ManagedEnvironmentsStorage `environment_name`, `storage_name` (ManagedEnvironmentsStorages.json path
    # `.../managedEnvironments/{environmentName}/storages/{storageName}`).
    "azure-native:app:ManagedEnvironmentsStorage": (
        "Microsoft.App",
        [("managedEnvironments", "environmentName"), ("storages", "storageName")],
    ),
    "azure-native:managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity",
        [("userAssignedIdentities", "resourceName")],
    ),
    "azure-native:servicebus:Namespace": ("Microsoft.ServiceBus", [("namespaces", "namespaceName")]),
    "azure-native:servicebus:Queue": (
        "Microsoft.ServiceBus",
        [("namespaces", "namespaceName"), ("queues", "queueName")],
    ),
    # Path parameters from the SDK classes: ActionGroup `action_group_name`, ScheduledQueryRule and MetricAlert
    # `rule_name` (pulumi_azure_native.monitor).
    "azure-native:monitor:ActionGroup": ("Microsoft.Insights", [("actionGroups", "actionGroupName")]),
    "azure-native:monitor:ScheduledQueryRule": ("Microsoft.Insights", [("scheduledQueryRules", "ruleName")]),
    "azure-native:monitor:MetricAlert": ("Microsoft.Insights", [("metricAlerts", "ruleName")]),
    # Storage and Event Hubs entities of event sources. A `=` names a literal segment: a storage account has one queue
    # and one blob service, `default` (Microsoft Learn "Assign an Azure role for access to queue data").
    "azure-native:storage:Queue": (
        "Microsoft.Storage",
        [("storageAccounts", "accountName"), ("queueServices", "=default"), ("queues", "queueName")],
    ),
    "azure-native:storage:BlobContainer": (
        "Microsoft.Storage",
        [("storageAccounts", "accountName"), ("blobServices", "=default"), ("containers", "containerName")],
    ),
    "azure-native:eventhub:ConsumerGroup": (
        "Microsoft.EventHub",
        [("namespaces", "namespaceName"), ("eventhubs", "eventHubName"), ("consumergroups", "consumerGroupName")],
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
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"


def physical_name_key(type_: str) -> str | None:
    """The input that holds a resource's Azure name (a change to it replaces the resource)."""
    if type_ == RESOURCE_GROUP:
        return "resourceGroupName"
    if type_ == ROLE_ASSIGNMENT:
        return "roleAssignmentName"
    if type_ in ARM_PATHS:
        return ARM_PATHS[type_][1][-1][1]
    return None


def _stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mock:" + "/".join(parts)))


def engine_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """The URN the engine gives a resource: the parent's full qualified type chain, except the root stack's."""
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


class AzureMocks(mocks.Mocks):
    """Offline stand-in for the azure-native provider, answering creates as `mode` says."""

    def __init__(self, subscription_id: str = PLACEHOLDER_SUBSCRIPTION, mode: str = NEW_STACK) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.subscription_id = subscription_id
        self.mode = mode

    def arm_id(self, type_: str, inputs: Mapping[str, Any]) -> str:
        if type_ == RESOURCE_GROUP:
            return f"/subscriptions/{self.subscription_id}/resourceGroups/{inputs['resourceGroupName']}"
        if type_ == ROLE_ASSIGNMENT:
            name = inputs["roleAssignmentName"]
            return f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}"
        if type_ not in ARM_PATHS:
            raise KeyError(f"no ARM path for {type_}: add it to tools/offline.py ARM_PATHS")
        namespace, segments = ARM_PATHS[type_]
        path = "/".join(f"{segment}/{key[1:] if key.startswith('=') else inputs[key]}" for segment, key in segments)
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{inputs['resourceGroupName']}"
            f"/providers/{namespace}/{path}"
        )

    @staticmethod
    def arm_type(type_: str) -> str:
        if type_ == RESOURCE_GROUP:
            return "Microsoft.Resources/resourceGroups"
        if type_ == ROLE_ASSIGNMENT:
            return "Microsoft.Authorization/roleAssignments"
        namespace, segments = ARM_PATHS[type_]
        return "/".join([namespace, *(segment for segment, _ in segments)])

    def computed(self, type_: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """What Azure fills in on a create: id, name, type and the computed properties the program reads."""
        values: dict[str, Any] = {
            "id": resource_id,
            "name": resource_id.rsplit("/", 1)[-1],
            "type": self.arm_type(type_),
        }
        if type_ == "azure-native:managedidentity:UserAssignedIdentity":
            values |= {
                "principalId": _stable_guid("principal", resource_id.lower()),
                "clientId": _stable_guid("client", resource_id.lower()),
                "tenantId": PLACEHOLDER_TENANT,
            }
        elif type_ == "azure-native:operationalinsights:Workspace":
            values["customerId"] = _stable_guid("workspace", resource_id.lower())
        elif type_ == "azure-native:app:Job":
            # Azure answers a list of user-assigned identity ids with a map keyed by id.
            assigned = (inputs.get("identity") or {}).get("userAssignedIdentities") or []
            values["identity"] = {
                "userAssignedIdentities": {
                    i: {
                        "principalId": _stable_guid("principal", i.lower()),
                        "clientId": _stable_guid("client", i.lower()),
                    }
                    for i in assigned
                }
            }
        elif type_ == "azure-native:servicebus:Namespace":
            values["serviceBusEndpoint"] = f"https://{values['name']}.servicebus.windows.net:443/"
        return values

    def answer(self, type_: str, inputs: Mapping[str, Any], import_id: str = "") -> tuple[str, dict[str, Any]]:
        """(id, outputs) for a create of an azure-native resource; id "" means unknown (preview of a create).

        An import is answered in every mode as the existing resource: the engine takes the id from `import_` and
        reads the live state, in a preview too (pulumi/pulumi `pkg/resource/deploy/step_generator.go`: `new.ID =
        goal.ID`; `step.go` `ImportStep.Apply`: `prov.Read(s.new.URN, s.new.ID, ...)`). Offline there is no live
        job, so its state is modelled as the declared inputs, at the import id: what a successful import reads."""
        if import_id:
            return import_id, deployed_outputs(type_, inputs, self.computed(type_, import_id, inputs))
        if self.mode == NEW_STACK:
            # provider.go `Create` with `req.GetPreview()`: preview outputs, no id; the id output is unknown.
            return "", {**preview_outputs(type_, inputs), "id": UNKNOWN}
        resource_id = self.arm_id(type_, inputs)
        return resource_id, deployed_outputs(type_, inputs, self.computed(type_, resource_id, inputs))

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Required by the `Mocks` interface; `RecordingMonitor` calls `answer` itself, with the wire inputs.
        if not args.typ.startswith("azure-native:"):
            return "", {}
        return self.answer(args.typ, args.inputs)

    def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        # Invokes run during a preview too, when their arguments are known.
        if args.token == "azure-native:operationalinsights:getSharedKeys":
            return {"primarySharedKey": "mock-primary-key", "secondarySharedKey": "mock-secondary-key"}
        if args.token == "azure-native:operationalinsights:getWorkspace":
            # A read of an existing workspace (an existing environment's): its customer id, stable per workspace.
            name = args.args["workspaceName"]
            return {"customerId": _stable_guid(f"workspace-{name}"), "name": name}
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
    """One resource as the engine received it, and what the provider answered."""

    urn: str
    type: str
    name: str
    id: str | None  # None for components; the unknown sentinel for a create in a preview
    custom: bool
    parent: str
    wire_inputs: dict[str, Any]  # exactly as received (secrets signed, unknowns, numbers as floats): Analyze
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    wire_outputs: dict[str, Any] = field(default_factory=dict)  # the provider's answer: AnalyzeStack
    # `retainOnDelete`: when the resource leaves the program the engine only drops it from the state (pulumi/pulumi
    # `pkg/resource/deploy/step.go` `DeleteStep.Apply`, read from the old state). Not sent to policy packs:
    # `AnalyzerResourceOptions` (proto/pulumi/analyzer.proto) has no such field.
    retain_on_delete: bool = False
    # `import_`: the id of the existing resource the engine imports instead of creating (an import step, `= import`
    # in the preview); "" when the resource is created. With it, `ignoreChanges`: the properties read from the live
    # resource rather than compared with it.
    import_id: str = ""
    ignore_changes: tuple[str, ...] = ()
    # A read (`ReadResource`: a `StackReference`, a `.get()`): the id read; nothing is created or changed.
    read_id: str = ""

    @property
    def op(self) -> str:
        """The step the engine would take for this resource in a new stack (pulumi/pulumi
        `pkg/resource/deploy/step.go` `StepOp`: `OpCreate` "create", `OpImport` "import", `OpRead` "read")."""
        if self.read_id:
            return "read"
        return "import" if self.import_id else "create"

    @cached_property
    def inputs(self) -> dict[str, Any]:
        """JSON form, as `pulumi preview --json` shows it: integers as integers, secrets as "[secret]",
        unknowns as the unknown sentinel."""
        return display(self.wire_inputs)

    @cached_property
    def plain_inputs(self) -> dict[str, Any]:
        """The same with secrets revealed, for assertions on what a secret holds."""
        return display(reveal(self.wire_inputs))

    @cached_property
    def outputs(self) -> dict[str, Any]:
        return display(self.wire_outputs)

    @cached_property
    def secret_paths(self) -> frozenset[str]:
        """Dotted paths of the input values the engine received as secrets."""
        return frozenset(_secret_paths(self.wire_inputs))

    @property
    def physical_name(self) -> str | None:
        key = physical_name_key(self.type)
        value = self.inputs.get(key) if key else None
        return value if isinstance(value, str) else None

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "parent": self.parent,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "protect": self.protect,
            # The key `pulumi preview --json` gives a step's state (pulumi/pulumi sdk/go/common/apitype/events.go
            # `StepEventStateMetadata`; there omitted when false).
            "retainOnDelete": self.retain_on_delete,
            # Only for an import, so that the document of a stack that adopts nothing stays as it was.
            **(
                {"op": self.op, "importId": self.import_id, "ignoreChanges": list(self.ignore_changes)}
                if self.import_id
                else {}
            ),
            **({"op": self.op} if self.read_id else {}),
        }


def display(value: Any, unknown: str = UNKNOWN) -> Any:
    """Wire value -> JSON: secrets as "[secret]", unknowns as `unknown`, integral numbers as integers."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return SECRET_MARK
        return {key: display(item, unknown) for key, item in value.items()}
    if isinstance(value, list):
        return [display(item, unknown) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN:
        return unknown
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


# Tests plant a violation by changing what the engine receives for one resource: (type, name, wire inputs) ->
# wire inputs. The provider then answers the changed inputs, so Analyze and AnalyzeStack see the same change.
Plant = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def _to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class RecordingMonitor(mocks.MockMonitor):
    """The engine's side of `RegisterResource`: engine URNs, the provider's answer, and a record of both."""

    def __init__(
        self,
        mocks_: AzureMocks,
        on_register: Callable[[Registration], None] | None = None,
        plant: Plant | None = None,
    ) -> None:
        super().__init__(mocks_)
        self.azure = mocks_
        self.plant = plant
        self.stack_urn = ""
        self.registrations: list[Registration] = []
        # Outputs of the stacks a `StackReference` reads, by `<org>/<project>/<stack>`.
        self.stack_outputs: dict[str, dict[str, Any]] = {}
        self.registered_outputs: dict[str, dict[str, Any]] = {}
        self.on_register = on_register

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(pulumi.get_stack(), pulumi.get_project(), parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == ROOT_STACK_TYPE:
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        wire = _to_dict(request.object)
        if self.plant is not None:
            wire = self.plant(request.type, request.name, wire)
        resource_id, outputs = "", {}
        if request.custom and request.type.startswith("azure-native:"):
            resource_id, outputs = self.azure.answer(request.type, reveal(wire), request.importId)
            outputs = annotate_secrets(outputs, wire)
        registration = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            id=(resource_id or UNKNOWN) if request.custom else None,
            custom=request.custom,
            parent=request.parent,
            wire_inputs=wire,
            dependencies=sorted(request.dependencies),
            property_dependencies={
                key: sorted(deps.urns) for key, deps in sorted(request.propertyDependencies.items())
            },
            protect=request.protect,
            wire_outputs=outputs,
            retain_on_delete=request.retainOnDelete,  # unset (the SDK's None) reads as False, as the engine does
            import_id=request.importId,
            ignore_changes=tuple(request.ignoreChanges),
        )
        self.registrations.append(registration)
        if self.on_register is not None:
            self.on_register(registration)
        # The SDK reads the answer back: secrets revealed (it re-marks them from the inputs), unknowns kept.
        state = _sync_await(rpc.serialize_properties(reveal(outputs), {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state)

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        """A read, as a `StackReference` makes (type `pulumi:pulumi:StackReference`, id `<org>/<project>/<stack>`):
        the engine answers with the referenced stack's outputs (pulumi/pulumi `pkg/resource/deploy/builtins.go`
        `readStackReference`: `{name, outputs, secretOutputNames}`). Offline the outputs come from `stack_outputs`
        (the preview's `--platform-outputs`); a stack without them is an error, as the engine's "unknown stack"."""
        urn = self.make_urn(request.parent, request.type, request.name)
        wire = _to_dict(request.properties)
        if request.type != STACK_REFERENCE:
            raise KeyError(f"no offline read for {request.type}: add it to tools/offline.py RecordingMonitor")
        if request.id not in self.stack_outputs:
            raise StackReferenceError(request.id)
        outputs = {"name": request.id, "outputs": self.stack_outputs[request.id], "secretOutputNames": []}
        self.registrations.append(
            Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                id=request.id,
                custom=True,
                parent=request.parent,
                wire_inputs=wire,
                dependencies=sorted(request.dependencies),
                property_dependencies={},
                protect=False,
                wire_outputs=outputs,
                read_id=request.id,
            )
        )
        state = _sync_await(rpc.serialize_properties(outputs, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=state)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        # Components and the stack register their outputs; AnalyzeStack sees these as their properties.
        self.registered_outputs[request.urn] = _to_dict(request.outputs)
        return super().RegisterResourceOutputs(request)


@dataclass
class ProgramRun:
    project: str
    stack: str
    stack_urn: str
    resources: list[Registration]
    wire_outputs: dict[str, Any]  # the stack's outputs as registered (secrets signed, unknowns kept)
    registered_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URN: components, stack
    mode: str = NEW_STACK
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def outputs(self) -> dict[str, Any]:
        return display(self.wire_outputs)

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def as_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "mode": self.mode,
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


def _run_as_stack(program_path: str) -> None:
    runpy.run_path(program_path, run_name="__main__")
    # The real entry point registers the stack's exports when the program returns (pulumi `runtime/stack.py`
    # `Stack._finish`); the mock runtime registered the root stack before the program ran.
    root = pulumi.runtime.get_root_resource()
    assert root is not None
    root.register_outputs(massage(root.outputs, []))  # type: ignore[attr-defined]


def run_program(
    config: Mapping[str, Any],
    stack: str,
    *,
    project: str = "aca-jobs",
    stack_file: str | None = None,
    project_dir: Path = PROJECT_DIR,
    mode: str = NEW_STACK,
    program: Path | None = None,
    on_register: Callable[[Registration], None] | None = None,
    plant: Plant | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> ProgramRun:
    """Run `__main__.py` as `pulumi preview` does, with `config` (keys like `aca-jobs:platform`, values as in
    YAML), the provider answering as `mode` says; return what the engine received. Exceptions from the program
    (e.g. `StackConfigError`) propagate after the runtime settles."""
    wire_config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    subscription = str(config.get("azure-native:subscriptionId") or PLACEHOLDER_SUBSCRIPTION)
    monitor = RecordingMonitor(AzureMocks(subscription, mode), on_register, plant)
    monitor.stack_outputs = {name: dict(outputs) for name, outputs in (stack_outputs or {}).items()}
    warnings = _WarningCollector()
    logger = logging.getLogger(f"aca-jobs.offline.{id(warnings)}")
    logger.propagate = False
    logger.addHandler(warnings)
    with _clean_pulumi_environment(stack_file):
        pulumi.runtime.reset_options(project=project, stack=stack, preview=True)
        mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=True, monitor=monitor, logger=logger)
        pulumi.runtime.set_all_config(wire_config)
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        program_path = str(program or project_dir / "__main__.py")
        _sync_await(mocks.run_pulumi_func(lambda: _run_as_stack(program_path)))
    return ProgramRun(
        project=project,
        stack=stack,
        stack_urn=monitor.stack_urn,
        resources=sorted(monitor.registrations, key=lambda r: r.urn),
        wire_outputs=monitor.registered_outputs.get(monitor.stack_urn, {}),
        registered_outputs=monitor.registered_outputs,
        mode=mode,
        warnings=warnings.messages,
    )
