"""What pulumi-azure-native answers for a resource, modelled offline from the SDK's own resource classes.

A resource's *outputs* are shaped like the ARM response, not like its inputs: they carry `name`, `type` and the
response properties, but no path parameters (`jobName`, `resourceGroupName`, `namespaceName`, ...), and some
properties change shape (a job's `identity.userAssignedIdentities` is a list of ids in the inputs and a map keyed
by id in the outputs). The output properties of each type, and the shape of each, are read from the SDK class's
`@pulumi.getter` properties and their type hints (`app.Job.configuration -> Output[JobConfigurationResponse]`),
never from a hand-written list.

Two answers are modelled:
- `preview_outputs`: a create during `pulumi preview`. pulumi/pulumi-azure-native
  `provider/pkg/provider/provider.go` `Create` returns, when `req.GetPreview()`, only
  `k.converter.PreviewOutputs(inputs, res.Response)` and no id, so the engine treats the id as unknown.
  `provider/pkg/convert/previewOutputs.go` `PreviewOutputs`/`previewOutputValue`: for every response property,
  the input of the same name is copied where its shape matches (primitive of the same kind, array item by item,
  object recursively, map value by value); every other property is unknown (`resource.MakeComputed`).
- `deployed_outputs`: the state of a created resource, as a preview of an unchanged deployed stack reads it:
  the same conversion with Azure's computed values (`name`, `type`, `id`, principal ids, ...) filled in.

The engine marks outputs secret where the matching input held a secret (pulumi/pulumi
`sdk/go/common/resource/plugin/provider_plugin.go` `annotateSecrets`: recursing while both sides are objects,
otherwise wrapping the whole output value); `annotate_secrets` does the same on wire values.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pulumi

# Wire encodings of the Pulumi property protocol (pulumi/pulumi `sdk/go/common/resource/plugin/rpc.go`).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

_PRIMITIVES: dict[type, str] = {str: "string", bool: "boolean", int: "number", float: "number"}


@dataclass(frozen=True)
class Shape:
    """The shape of one output property: `string`/`number`/`boolean`, `array`, `map`, `object` or `any`."""

    kind: str
    item: Shape | None = None  # element of an array or value of a map
    output_type: type | None = None  # the SDK output class of an object

    @property
    def fields(self) -> dict[str, Shape]:
        assert self.output_type is not None
        return output_fields(self.output_type)


def _shape(hint: Any) -> Shape:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is pulumi.Output or origin is typing.Union:  # Output[T], Optional[T]
        return _shape(next(arg for arg in args if arg is not type(None)))
    if hint in _PRIMITIVES:
        return Shape(_PRIMITIVES[hint])
    if origin in (Sequence, list, typing.Sequence):
        return Shape("array", item=_shape(args[0]))
    if origin in (Mapping, dict, typing.Mapping):
        return Shape("map", item=_shape(args[1]))
    if inspect.isclass(hint) and _getters(hint):
        return Shape("object", output_type=hint)
    return Shape("any")


def _getters(cls: type) -> dict[str, property]:
    return {
        member.fget._pulumi_name: member  # type: ignore[union-attr]
        for _, member in inspect.getmembers(cls)
        if isinstance(member, property) and hasattr(member.fget, "_pulumi_name")
    }


@cache
def output_fields(cls: type) -> dict[str, Shape]:
    """Output property name (camelCase, as on the wire) -> shape, for an SDK resource or output class."""
    namespace = sys.modules[cls.__module__].__dict__
    return {
        name: _shape(typing.get_type_hints(member.fget, globalns=namespace).get("return", Any))
        for name, member in _getters(cls).items()
    }


def resource_class(type_token: str) -> type:
    """`azure-native:app:Job` -> `pulumi_azure_native.app.Job`."""
    _, module, name = type_token.split(":")
    return getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)


# Not a response property: azure-native adds it to the checkpoint of a created resource only
# (`provider/pkg/provider/provider.go` `checkpointObjectVersioned`), so neither answer modelled here has it.
NOT_RESPONSE_PROPERTIES = frozenset({"azureApiVersion"})


def resource_fields(type_token: str) -> dict[str, Shape]:
    fields = output_fields(resource_class(type_token))
    return {name: shape for name, shape in fields.items() if name not in NOT_RESPONSE_PROPERTIES}


# --- conversion (previewOutputs.go) --------------------------------------------------------------------------

_MISSING = object()


def _matches(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str) and value != UNKNOWN
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def _convert(value: Any, shape: Shape, missing: Any) -> Any:
    """`previewOutputValue`: the input value in the output's shape, or `missing` where the shapes differ."""
    if value is _MISSING or value == UNKNOWN:
        return missing
    if shape.kind in ("string", "boolean", "number"):
        return value if _matches(value, shape.kind) else missing
    if shape.kind == "array" and isinstance(value, list):
        assert shape.item is not None
        return [_convert(item, shape.item, missing) for item in value]
    if shape.kind == "object" and isinstance(value, dict):
        return convert_object(value, shape.fields, missing)
    if shape.kind == "map" and isinstance(value, dict):
        assert shape.item is not None
        return {key: _convert(item, shape.item, missing) for key, item in value.items()}
    if shape.kind == "any":
        # `prop.Ref == TypeAny` is copied as is; an untyped property keeps a primitive.
        return value
    return missing


def convert_object(inputs: Mapping[str, Any], fields: Mapping[str, Shape], missing: Any) -> dict[str, Any]:
    """`PreviewOutputs`: every output property, from the input of the same name where the shapes match."""
    result = {name: _convert(inputs.get(name, _MISSING), shape, missing) for name, shape in fields.items()}
    return {name: value for name, value in result.items() if value is not _DROP}


_DROP = object()


def preview_outputs(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What azure-native's `Create` answers during preview: output-shaped, unknown where not copied from inputs."""
    return convert_object(inputs, resource_fields(type_token), UNKNOWN)


def deployed_outputs(type_token: str, inputs: Mapping[str, Any], computed: Mapping[str, Any]) -> dict[str, Any]:
    """The state of a created resource: inputs in the output shape, Azure's `computed` values on top. Output
    properties Azure would fill but this model does not know (e.g. `systemData`) are left out."""
    converted = convert_object(inputs, resource_fields(type_token), _DROP)
    return _strip(_merge(converted, computed))


def _merge(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, Mapping):
        return {**base, **{key: _merge(base.get(key, _DROP), value) for key, value in top.items()}}
    return top


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip(item) for key, item in value.items() if item is not _DROP}
    if isinstance(value, list):
        return [_strip(item) for item in value if item is not _DROP]
    return value


# --- secrets (annotateSecrets) -----------------------------------------------------------------------------


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def contains_secrets(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secrets(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secrets(item) for item in value)
    return False


def reveal(value: Any) -> Any:
    """The wire value with every secret replaced by what it holds."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def annotate_secrets(outputs: dict[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Mark outputs secret where the input of the same key held one, as the engine does for providers that do
    not return secrets themselves."""
    result = dict(outputs)
    for key, input_value in inputs.items():
        if key not in result:
            continue
        output_value = result[key]
        both_objects = isinstance(output_value, dict) and isinstance(input_value, dict)
        if both_objects and not is_secret(output_value) and not is_secret(input_value):
            result[key] = annotate_secrets(output_value, input_value)
            continue
        if not is_secret(output_value) and contains_secrets(input_value):
            result[key] = {SECRET_SIG_KEY: SECRET_SIG, "value": output_value}
    return result
