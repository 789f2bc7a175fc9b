"""Run a CrossGuard policy pack the way the Pulumi CLI does, against an offline preview's registrations.

The pack is started as a separate process exactly as the CLI starts a Python pack
(`python -u -m pulumi.policy <engine-address> .` in the pack folder); it prints its gRPC port and serves
`pulumirpc.Analyzer`. We then do what the CLI does: GetAnalyzerInfo, Configure (schema defaults, the pack's
initial config, then the stack's policy config, like `--policy-pack-config`), Analyze for each resource and
AnalyzeStack once.

The Python policy SDK never dials the engine address, so none is served; the argument is kept for fidelity.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.offline import ProgramRun, Registration

LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVELS = {name: level for level, name in LEVEL_NAMES.items()}
UNUSED_ENGINE_ADDRESS = "127.0.0.1:0"
START_TIMEOUT_SECONDS = 60
MAX_MESSAGE_BYTES = 400 * 1024 * 1024


class PolicyConfigError(Exception):
    """The policy config file is unreadable or names policies, levels or properties the pack lacks."""


@dataclass(frozen=True)
class PolicyViolation:
    policy_name: str
    enforcement_level: str
    urn: str
    message: str
    description: str = ""
    pack: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "policyName": self.policy_name,
            "enforcementLevel": self.enforcement_level,
            "urn": self.urn,
            "message": self.message,
        }


class PolicyPackProcess:
    """A policy pack process and a gRPC stub to it. Starting is not blocking: `connect()` waits for the port,
    so the pack can boot while the program runs."""

    def __init__(self, pack_dir: Path, python: str = sys.executable) -> None:
        if not (pack_dir / "PulumiPolicy.yaml").is_file():
            raise PolicyConfigError(f"{pack_dir}: not a policy pack (no PulumiPolicy.yaml)")
        self.pack_dir = pack_dir
        self.process = subprocess.Popen(
            [python, "-u", "-m", "pulumi.policy", UNUSED_ENGINE_ADDRESS, "."],
            cwd=pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={key: value for key, value in os.environ.items() if not key.startswith("PULUMI_CONFIG")},
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, args=(self.process.stderr, self.stderr), daemon=True).start()
        self.channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    @staticmethod
    def _drain(stream: Any, into: list[str] | None) -> None:
        for line in iter(stream.readline, b""):
            if into is not None:
                into.append(line.decode(errors="replace"))

    def connect(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._stub is not None:
            return self._stub
        port_line: list[bytes] = []
        reader = threading.Thread(target=lambda: port_line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_SECONDS)
        port = (port_line[0] if port_line else b"").strip()
        if not port.isdigit():
            self.close()
            raise RuntimeError(f"policy pack {self.pack_dir} did not start:\n{''.join(self.stderr)}")
        # Policies may print; keep the pipe drained so the pack never blocks on it.
        threading.Thread(target=self._drain, args=(self.process.stdout, None), daemon=True).start()
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{int(port)}",
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT_SECONDS)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self._stub

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process.poll() is None:
            # The pack sleeps in the foreground; SIGINT stops its server and it exits 0.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- configuration, as the CLI reconciles it ----------------------------------------------------------------


def read_policy_config(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise PolicyConfigError(f"{path}: policy config not found") from None
    except ValueError as error:
        raise PolicyConfigError(f"{path.name}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path.name}: expected a JSON object of policy names")
    return document


def _level(value: Any, where: str) -> int:
    if value not in LEVELS:
        raise PolicyConfigError(f"{where}: enforcement level must be one of {sorted(LEVELS)}, got {value!r}")
    return LEVELS[value]


def reconcile_config(
    info: analyzer_pb2.AnalyzerInfo, user: Mapping[str, Any], source: str = "policy config"
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Per policy: its enforcement level and properties. Schema defaults, then the pack's initial config,
    then `all`, then per-policy user config: the order the CLI applies them in."""
    config: dict[str, tuple[int, dict[str, Any]]] = {}
    schemas: dict[str, dict[str, Any]] = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        schemas[policy.name] = schema
        defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        config[policy.name] = (policy.enforcementLevel, defaults)
    for name, initial in info.initialConfig.items():
        if name in config:
            level, properties = config[name]
            config[name] = (
                initial.enforcementLevel,
                {**properties, **json_format.MessageToDict(initial.properties)},
            )
    if "all" in user:
        level = _level(user["all"], f"{source}: all")
        config = {name: (level, properties) for name, (_, properties) in config.items()}
    for name, value in user.items():
        if name == "all":
            continue
        if name not in config:
            raise PolicyConfigError(f"{source}: `{name}` is not a policy of this pack; known: {sorted(config)}")
        level, properties = config[name]
        if isinstance(value, str):
            config[name] = (_level(value, f"{source}: {name}"), properties)
            continue
        if not isinstance(value, dict):
            raise PolicyConfigError(f"{source}: {name}: expected a level or an object")
        overrides = dict(value)
        if "enforcementLevel" in overrides:
            level = _level(overrides.pop("enforcementLevel"), f"{source}: {name}.enforcementLevel")
        for key, setting in overrides.items():
            _check_property(schemas[name], key, setting, f"{source}: {name}.{key}")
        config[name] = (level, {**properties, **overrides})
    return config


_JSON_TYPES = {
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "string": str,
    "array": list,
    "object": dict,
}


def _check_property(schema: Mapping[str, Any], key: str, value: Any, where: str) -> None:
    if key not in schema:
        raise PolicyConfigError(f"{where}: not a setting of this policy; known: {sorted(schema)}")
    expected = _JSON_TYPES.get(schema[key].get("type", ""), object)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise PolicyConfigError(f"{where}: must be of type {schema[key].get('type')}, got {value!r}")


# --- analysis ------------------------------------------------------------------------------------------------


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(value))
    return struct


def _options(resource: Registration) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent)


def stack_resources(run: ProgramRun) -> list[analyzer_pb2.AnalyzerResource]:
    """What AnalyzeStack receives (pulumi/pulumi `pkg/resource/deploy/step_generator.go` `AnalyzeResources`):
    every resource with its final OUTPUTS ("Unlike Analyze, AnalyzeStack is called on the final outputs of each
    resource"): the provider's answer for a custom resource, the registered outputs for a component and for the
    stack itself, with options, parent, dependencies and property dependencies."""
    stack = analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack",
        name=f"{run.project}-{run.stack}",
        urn=run.stack_urn,
        properties=_struct(run.wire_outputs),
    )
    return [stack, *(_analyzer_resource(r, run.registered_outputs) for r in run.resources)]


def _analyzer_resource(
    resource: Registration, registered_outputs: Mapping[str, Mapping[str, Any]]
) -> analyzer_pb2.AnalyzerResource:
    outputs = resource.wire_outputs if resource.custom else registered_outputs.get(resource.urn, {})
    return analyzer_pb2.AnalyzerResource(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        properties=_struct(outputs),
        options=_options(resource),
        parent=resource.parent,
        dependencies=resource.dependencies,
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
            for key, urns in resource.property_dependencies.items()
        },
    )


def configure(
    stub: analyzer_pb2_grpc.AnalyzerStub, user_config: Mapping[str, Any], source: str = "policy config"
) -> analyzer_pb2.AnalyzerInfo:
    """GetAnalyzerInfo, then Configure every policy with its reconciled level and settings."""
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    config = reconcile_config(info, user_config, source)
    stub.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=_struct(properties))
                for name, (level, properties) in config.items()
            }
        )
    )
    return info


def _analyze_request(resource: Registration) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        properties=_struct(resource.wire_inputs),
        options=_options(resource),
    )


class PolicyReview:
    """Reviews resources as they are registered, like the CLI does during a preview.

    A worker thread connects to the pack, configures it, then sends each submitted resource's Analyze request
    without waiting for the answer; the pack analyzes in its own process while the program keeps registering.
    `finish` sends AnalyzeStack and collects every diagnostic."""

    def __init__(self, pack: PolicyPackProcess, user_config: Mapping[str, Any], source: str = "policy config") -> None:
        self._pack, self._user_config, self._source = pack, user_config, source
        self._submitted: queue.SimpleQueue[Registration | None] = queue.SimpleQueue()
        self._pending: list[tuple[str, grpc.Future]] = []
        self._info: analyzer_pb2.AnalyzerInfo | None = None
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()

    def submit(self, resource: Registration) -> None:
        # The engine analyzes every registered resource, components included, before deciding its step
        # (pulumi/pulumi `pkg/resource/deploy/step_generator.go` `continueStepsFromImport` -> `analyzeAll`).
        self._submitted.put(resource)

    def _work(self) -> None:
        try:
            stub = self._pack.connect()
            self._info = configure(stub, self._user_config, self._source)
            while (resource := self._submitted.get()) is not None:
                self._pending.append((resource.urn, stub.Analyze.future(_analyze_request(resource))))
        except BaseException as error:  # re-raised by finish, on the caller's thread
            self._error = error
            while self._submitted.get() is not None:
                pass

    def finish(self, run: ProgramRun) -> list[PolicyViolation]:
        self._submitted.put(None)
        self._worker.join()
        if self._error is not None:
            raise self._error
        assert self._info is not None
        stack = self._pack.connect().AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=stack_resources(run)))
        responses: list[tuple[str, Iterable[Any]]] = [(urn, f.result().diagnostics) for urn, f in self._pending]
        responses.append((run.stack_urn, stack.diagnostics))
        descriptions = {policy.name: policy.description for policy in self._info.policies}
        violations = [
            PolicyViolation(
                policy_name=diagnostic.policyName,
                enforcement_level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                urn=diagnostic.urn or urn,
                # The SDK prefixes the policy's description; it is printed separately.
                message=diagnostic.message.removeprefix(descriptions.get(diagnostic.policyName, "") + "\n"),
                description=descriptions.get(diagnostic.policyName, diagnostic.description),
                pack=self._info.name,
            )
            for urn, diagnostics in responses
            for diagnostic in diagnostics
        ]
        return sorted(violations, key=lambda v: (v.enforcement_level != "mandatory", v.policy_name, v.urn, v.message))


def review(
    pack: PolicyPackProcess, run: ProgramRun, user_config: Mapping[str, Any], source: str = "policy config"
) -> list[PolicyViolation]:
    """Review an already finished run: every resource, then the stack."""
    policy_review = PolicyReview(pack, user_config, source)
    for resource in run.resources:
        policy_review.submit(resource)
    return policy_review.finish(run)
