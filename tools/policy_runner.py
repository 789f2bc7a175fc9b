"""Run a CrossGuard policy pack the way the Pulumi CLI does, against an offline preview's registrations.

The pack is started as a separate process exactly as the CLI starts a Python pack
(`python -u -m pulumi.policy <engine-address> .` in the pack folder); it prints its gRPC port and serves
`pulumirpc.Analyzer`. We then do what the CLI does: GetAnalyzerInfo, Configure (schema defaults, the pack's
initial config, then the stack's policy config, like `--policy-pack-config`), Analyze for each resource and
AnalyzeStack once.

The Python policy SDK never dials the engine address, so none is served; the argument is kept for fidelity.

Every call to the pack has a deadline (`CALL_TIMEOUT_SECONDS`, per `PolicyPackProcess`), and so has its start:
a pack that never answers is a `PolicyPackTimeoutError` naming the pack and the call, never a hang. On Linux the
pack is started with `PR_SET_PDEATHSIG` = SIGKILL, so it dies with this process however this process ends
(SIGTERM, SIGKILL, a crash), not only through `close()`.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import math
import operator
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
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
START_TIMEOUT_SECONDS = 60  # for the pack to print its port and accept a connection
CALL_TIMEOUT_SECONDS = 60  # the deadline of every call to the pack
STOP_GRACE_SECONDS = 10  # for a pack asked to stop (SIGINT) before it is killed
MAX_MESSAGE_BYTES = 400 * 1024 * 1024
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class PolicyConfigError(Exception):
    """The policy config file is unreadable or names policies, levels or properties the pack lacks, or gives a
    setting a value its schema does not allow."""


class PolicyPackTimeoutError(RuntimeError):
    """The pack did not start or did not answer a call within its deadline: the stack was not reviewed."""


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


# Run first in the pack's process, before Python execs itself into the pack: it asks Linux to SIGKILL it when its
# parent ends (`PR_SET_PDEATHSIG`, kept across exec) and exits if the parent is already gone. Done after the
# spawn, not in a `preexec_fn`: a `preexec_fn` makes subprocess fork() this (multi-threaded, gRPC-using) process
# and run gRPC's fork handlers and Python code in the child, which crashed the child now and then (SIGABRT,
# SIGSEGV) while other threads used gRPC ("Other threads are currently calling into gRPC, skipping fork()
# handlers"). Without a `preexec_fn`, subprocess spawns with vfork and execs at once.
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    libc = ctypes.CDLL(None, use_errno=True)\n"
    "    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:\n"  # 1 = PR_SET_PDEATHSIG (<linux/prctl.h>)
    "        sys.exit('prctl(PR_SET_PDEATHSIG) failed')\n"
    "if os.getppid() != int(sys.argv[1]):\n"  # the parent died before the prctl: nobody will read this pack
    "    os._exit(1)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def pack_command(python: str, *args: str) -> list[str]:
    """`python *args`, started through `DIE_WITH_PARENT` so that it dies with this process."""
    return [python, "-c", DIE_WITH_PARENT, str(os.getpid()), *args]


class _Forker:
    """A thread that lives as long as this process, to start packs for callers on other threads.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process. The main thread lives
    as long as the process, so a pack started there is started directly; a pack started from any other thread
    (which may end while the pack is in use) is forked by this daemon thread instead, which never returns."""

    _lock = threading.Lock()
    _requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] | None = None

    @classmethod
    def run(cls, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():
            return start()
        with cls._lock:
            if cls._requests is None:
                cls._requests = queue.SimpleQueue()
                threading.Thread(
                    target=cls._serve, args=(cls._requests,), name="policy-pack-forker", daemon=True
                ).start()
        started: Future[subprocess.Popen[bytes]] = Future()
        cls._requests.put((start, started))
        return started.result()

    @staticmethod
    def _serve(requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]]) -> None:
        while True:
            start, started = requests.get()
            try:
                started.set_result(start())
            except BaseException as error:  # handed to the caller's thread
                started.set_exception(error)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _DefaultDeadline(grpc.UnaryUnaryClientInterceptor):
    """Gives every call on the channel that names no deadline of its own this one (the Analyzer service is
    unary only), so no call to the pack, a test's included, can wait forever."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.timeout is None:
            details = _CallDetails(
                details.method,
                self.seconds,
                details.metadata,
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        return continuation(details, request)


class PolicyPackProcess:
    """A policy pack process and a gRPC stub to it. Starting is not blocking: `connect()` waits for the port,
    so the pack can boot while the program runs.

    `start_timeout` bounds the wait for the port and the connection, `call_timeout` every call (`call`,
    `call_future`, and any call on the stub `connect()` returns that names no deadline). A pack that misses one
    is killed by `close()` without the grace period: it is not answering."""

    def __init__(
        self,
        pack_dir: Path,
        python: str = sys.executable,
        *,
        call_timeout: float = CALL_TIMEOUT_SECONDS,
        start_timeout: float = START_TIMEOUT_SECONDS,
    ) -> None:
        if not (pack_dir / "PulumiPolicy.yaml").is_file():
            raise PolicyConfigError(f"{pack_dir}: not a policy pack (no PulumiPolicy.yaml)")
        self.pack_dir = pack_dir
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self._unresponsive = False
        self.process = _Forker.run(
            lambda: subprocess.Popen(
                pack_command(python, "-u", "-m", "pulumi.policy", UNUSED_ENGINE_ADDRESS, "."),
                cwd=pack_dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={key: value for key, value in os.environ.items() if not key.startswith("PULUMI_CONFIG")},
            )
        )
        self.stderr: list[str] = []
        self._stderr_reader = threading.Thread(target=self._drain, args=(self.process.stderr, self.stderr), daemon=True)
        self._stderr_reader.start()
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
        reader.join(self.start_timeout)
        if not port_line:  # still silent, and still running: hung before serving
            raise self._timed_out(f"policy pack {self.pack_dir} did not start within {self.start_timeout:g} s")
        port = port_line[0].strip()
        if not port.isdigit():
            self.close()
            # The pack has ended: read the rest of what it said (bounded) before reporting it.
            self._stderr_reader.join(STOP_GRACE_SECONDS)
            said = f"its first line was {port_line[0][:200]!r}" if port else "it printed no port"
            raise RuntimeError(
                f"policy pack {self.pack_dir} did not start ({said}; exit code {self.process.returncode}):\n"
                + "".join(self.stderr)
            )
        # Policies may print; keep the pipe drained so the pack never blocks on it.
        threading.Thread(target=self._drain, args=(self.process.stdout, None), daemon=True).start()
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{int(port)}",
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        try:
            grpc.channel_ready_future(self.channel).result(timeout=self.start_timeout)
        except grpc.FutureTimeoutError:
            raise self._timed_out(
                f"policy pack {self.pack_dir} did not accept a connection on port {int(port)} "
                f"within {self.start_timeout:g} s"
            ) from None
        channel = grpc.intercept_channel(self.channel, _DefaultDeadline(self.call_timeout))
        self._stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        return self._stub

    def _timed_out(self, what: str) -> PolicyPackTimeoutError:
        """The error for a missed deadline; the pack is stopped, and killed at once (it is not answering)."""
        self._unresponsive = True
        self.close()
        return PolicyPackTimeoutError(f"{what}, so the stack was not reviewed")

    @contextlib.contextmanager
    def answering(self, call: str) -> Iterator[None]:
        """Turns an expired deadline of `call` into a PolicyPackTimeoutError naming the pack and the call."""
        try:
            yield
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:  # type: ignore[attr-defined]
                raise
            raise self._timed_out(
                f"policy pack {self.pack_dir} did not answer {call} within {self.call_timeout:g} s"
            ) from None

    def call(self, method: str, request: Any) -> Any:
        """One call to the pack, with the call deadline."""
        with self.answering(method):
            return getattr(self.connect(), method)(request, timeout=self.call_timeout)

    def call_future(self, method: str, request: Any) -> grpc.Future:
        """A call to the pack that does not wait for the answer; its deadline runs from now. Read it inside
        `answering(...)`."""
        return getattr(self.connect(), method).future(request, timeout=self.call_timeout)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process.poll() is None:
            if self._unresponsive:
                self.process.kill()
            else:
                # The pack sleeps in the foreground; SIGINT stops its server and it exits 0.
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- configuration, as the CLI reconciles it ----------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def read_policy_config(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(), parse_constant=_no_constant)
    except FileNotFoundError:
        raise PolicyConfigError(f"{path}: policy config not found") from None
    except IsADirectoryError:
        raise PolicyConfigError(f"{path}: is a directory, not a policy config file (JSON)") from None
    except OSError as error:
        raise PolicyConfigError(f"{path}: policy config cannot be read: {error.strerror or error}") from None
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


def _check_property(schema: Mapping[str, Any], key: str, value: Any, where: str) -> None:
    if key not in schema:
        raise PolicyConfigError(f"{where}: not a setting of this policy; known: {sorted(schema)}")
    _validate(schema[key], value, where)


# --- JSON schema, the keywords policy config schemas use ---------------------------------------------------
# The CLI validates each policy's settings against its JSON schema (gojsonschema) before configuring the pack;
# so do we, for the keywords below. A schema that uses another validation keyword cannot be checked here, and
# a value for it is refused as a tool failure rather than passed on unchecked.

_ANNOTATIONS = frozenset({"default", "description", "title", "examples", "$comment", "deprecated", "readOnly"})
_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
    }
)


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":  # JSON has one number type: 2.0 is an integer, 2.5 and true are not
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    types: dict[str, type | tuple[type, ...]] = {
        "boolean": bool,
        "string": str,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    if name not in types:
        raise RuntimeError(f"the pack's config schema names an unknown JSON type {name!r}")
    return isinstance(value, types[name])


def _shown(value: Any) -> str:
    """A value as JSON writes it (schemas come over the wire as protobuf Structs, where 1 is 1.0)."""

    def plain(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, list):
            return [plain(x) for x in item]
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items()}
        return item

    return json.dumps(plain(value))


def _json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: true is not 1, 1 is 1.0."""
    if isinstance(left, bool) or isinstance(right, bool) or left is None or right is None:
        return left is right or (type(left) is type(right) and left == right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# keyword, the values it applies to, what it measures, the comparison that must hold, and the rule's wording.
_BOUNDS: tuple[tuple[str, Callable[[Any], bool], Callable[[Any], Any], Callable[[Any, Any], bool], str], ...] = (
    ("minimum", _is_number, lambda v: v, operator.ge, "must be at least {}"),
    ("maximum", _is_number, lambda v: v, operator.le, "must be at most {}"),
    ("minLength", lambda v: isinstance(v, str), len, operator.ge, "must be at least {} characters long"),
    ("maxLength", lambda v: isinstance(v, str), len, operator.le, "must be at most {} characters long"),
    ("minItems", lambda v: isinstance(v, list), len, operator.ge, "must have at least {} items"),
    ("maxItems", lambda v: isinstance(v, list), len, operator.le, "must have at most {} items"),
)


def _validate(schema: Mapping[str, Any], value: Any, where: str) -> None:
    """Refuses `value` unless it satisfies `schema`, with a PolicyConfigError naming `where` and the bound."""

    def refuse(rule: str) -> PolicyConfigError:
        return PolicyConfigError(f"{where}: {rule}, got {_shown(value)}")

    unchecked = set(schema) - _KEYWORDS - _ANNOTATIONS
    if unchecked:
        raise RuntimeError(
            f"{where}: the pack's schema for this setting uses {sorted(unchecked)}, which this tool cannot "
            "validate; use `pulumi preview --policy-pack-config` to check this value"
        )
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in names):
            raise refuse(f"must be of type {' or '.join(names)}")
    if "enum" in schema and not any(_json_equal(value, option) for option in schema["enum"]):
        raise refuse(f"must be one of {_shown(schema['enum'])}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        raise refuse(f"must be {_shown(schema['const'])}")
    if _is_number(value):
        exclusive_minimum, exclusive_maximum = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        # Draft-4 style: a boolean exclusiveMinimum/Maximum makes minimum/maximum strict.
        if exclusive_minimum is True and "minimum" in schema and not value > schema["minimum"]:
            raise refuse(f"must be greater than {_shown(schema['minimum'])}")
        if exclusive_maximum is True and "maximum" in schema and not value < schema["maximum"]:
            raise refuse(f"must be less than {_shown(schema['maximum'])}")
        if not isinstance(exclusive_minimum, bool | None) and not value > exclusive_minimum:
            raise refuse(f"must be greater than {_shown(exclusive_minimum)}")
        if not isinstance(exclusive_maximum, bool | None) and not value < exclusive_maximum:
            raise refuse(f"must be less than {_shown(exclusive_maximum)}")
    for keyword, applies, measure, within, rule in _BOUNDS:
        if keyword in schema and applies(value) and not within(measure(value), schema[keyword]):
            raise refuse(rule.format(_shown(schema[keyword])))
    if isinstance(value, str) and "pattern" in schema:
        try:
            matched = re.search(schema["pattern"], value)
        except re.error as error:
            raise RuntimeError(f"{where}: the pack's schema has a pattern this tool cannot read: {error}") from None
        if not matched:
            raise refuse(f"must match the pattern {_shown(schema['pattern'])}")
    if isinstance(value, list):
        if schema.get("uniqueItems") and any(_json_equal(a, b) for i, a in enumerate(value) for b in value[i + 1 :]):
            raise refuse("must not repeat an item")
        items = schema.get("items")
        for index, item in enumerate(value):
            item_schema = items[index] if isinstance(items, list) and index < len(items) else items
            if isinstance(item_schema, dict):
                _validate(item_schema, item, f"{where}[{index}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise refuse(f"must set `{key}`")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                _validate(properties[key], item, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise refuse(f"has `{key}`, which is not one of {sorted(properties)}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(schema["additionalProperties"], item, f"{where}.{key}")


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


def _configure_request(config: Mapping[str, tuple[int, dict[str, Any]]]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    return analyzer_pb2.ConfigureAnalyzerRequest(
        policyConfig={
            name: analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=_struct(properties))
            for name, (level, properties) in config.items()
        }
    )


def configure(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    user_config: Mapping[str, Any],
    source: str = "policy config",
    timeout: float = CALL_TIMEOUT_SECONDS,
) -> analyzer_pb2.AnalyzerInfo:
    """GetAnalyzerInfo, then Configure every policy with its reconciled level and settings."""
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=timeout)
    stub.Configure(_configure_request(reconcile_config(info, user_config, source)), timeout=timeout)
    return info


@contextlib.contextmanager
def _program_frozen() -> Iterator[None]:
    """The finished program's objects left out of Python's cyclic collections meanwhile (`gc.freeze`, undone after).

    The engine builds AnalyzeStack in its own (Go) process; here the model builds it in the program's process, whose
    heap then holds the whole finished program (every resource, output and the tasks that resolved them). Each full
    collection the request's allocations trigger would re-traverse all of it, a cost no real preview has and one that
    grows with the stack (at 300 generated jobs a second of the review's tail). Nothing is leaked: `gc.unfreeze`
    returns the objects to the collector."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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

    A worker thread connects to the pack and configures it while the program starts; resources registered
    meanwhile wait in a backlog that the worker sends once the pack is configured. From then on each registration
    sends its Analyze request at once, on the thread that registers it, without waiting for the answer: the pack
    analyzes in its own process while the program keeps registering. (Handing every request to the worker instead
    left most of them unsent until the program ended: the worker rarely got the GIL from the busy program, and the
    pack then did its work after the program rather than beside it; docs/internals.md, Performance.) `finish`
    sends AnalyzeStack and collects every diagnostic."""

    def __init__(self, pack: PolicyPackProcess, user_config: Mapping[str, Any], source: str = "policy config") -> None:
        self._pack, self._user_config, self._source = pack, user_config, source
        self._lock = threading.Lock()
        self._backlog: list[Registration] | None = []  # None once the pack is configured
        self._pending: list[tuple[str, grpc.Future]] = []
        self._info: analyzer_pb2.AnalyzerInfo | None = None
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._configure, daemon=True)
        self._worker.start()

    def submit(self, resource: Registration) -> None:
        # The engine analyzes every registered resource, components included, before deciding its step
        # (pulumi/pulumi `pkg/resource/deploy/step_generator.go` `continueStepsFromImport` -> `analyzeAll`).
        with self._lock:
            if self._error is not None:
                return  # finish reports it
            if self._backlog is not None:
                self._backlog.append(resource)
                return
            self._send(resource)

    def _send(self, resource: Registration) -> None:
        """Analyze `resource` without waiting for the answer (called holding the lock)."""
        try:
            self._pending.append((resource.urn, self._pack.call_future("Analyze", _analyze_request(resource))))
        except BaseException as error:  # re-raised by finish, on the caller's thread
            self._error = error

    def _configure(self) -> None:
        try:
            info = self._pack.call("GetAnalyzerInfo", empty_pb2.Empty())
            config = reconcile_config(info, self._user_config, self._source)
            self._pack.call("Configure", _configure_request(config))
        except BaseException as error:  # re-raised by finish, on the caller's thread
            with self._lock:
                self._error, self._backlog = error, None
            return
        with self._lock:
            self._info = info
            backlog, self._backlog = self._backlog or [], None
            for resource in backlog:
                self._send(resource)

    def finish(self, run: ProgramRun) -> list[PolicyViolation]:
        self._worker.join()
        if self._error is not None:
            raise self._error
        assert self._info is not None
        # Every resource's answer first, as the engine has them before the stack is analyzed; each within its
        # own deadline, so a pack stuck on one resource is named for it.
        responses: list[tuple[str, Iterable[Any]]] = []
        for urn, answer in self._pending:
            with self._pack.answering(f"Analyze for {urn}"):
                responses.append((urn, answer.result().diagnostics))
        with _program_frozen():
            request = analyzer_pb2.AnalyzeStackRequest(resources=stack_resources(run))
        stack = self._pack.call("AnalyzeStack", request)
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
