"""The API's validating models, derived from the one contract in :mod:`sync.wire`.

Nothing here declares a field: each model is built from a contract dataclass,
its ``Annotated`` limits turned into pydantic constraints. They give the
OpenAPI description its schemas; what a tablet sends is checked strictly
(wrong types and unknown fields are refused), while the models of answers only
describe them.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetPydanticSchema, create_model

from server.rating_check import RATINGS_SCHEMA
from sync import wire

__all__ = [
    "model_for",
    "ErrorOut",
    "DeviceCodeIn",
    "DeviceCodeOut",
    "TokenIn",
    "TokenOut",
    "BatchIn",
    "RatingsBatchIn",
    "BatchOut",
    "DeviceHealthOut",
    "SealKeyIn",
    "SealKeyOut",
    "RosterOut",
]

_STRICT = ConfigDict(strict=True, extra="forbid")
_DESCRIPTIVE = ConfigDict(extra="ignore")


def model_for(shape: type, *, strict: bool, name: str | None = None) -> type[BaseModel]:
    """A pydantic model of a contract shape (nested shapes become nested models).

    ``strict`` models refuse wrong types and unknown fields: they check what
    arrives. The others describe what the server sends.
    """
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(shape):
        annotation, constraints = _translate(wire.hints(shape)[f.name], strict)
        default = ... if f.default is dataclasses.MISSING else f.default
        fields[f.name] = (annotation, Field(default, **constraints))
    model = create_model(  # type: ignore[call-overload]
        name or shape.__name__,
        __config__=_STRICT if strict else _DESCRIPTIVE,
        __doc__=shape.__doc__,
        **fields,
    )
    return model


def _translate(tp: Any, strict: bool) -> tuple[Any, dict[str, Any]]:
    """A contract annotation as a pydantic annotation and ``Field`` constraints."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *markers = get_args(tp)
        annotation, constraints = _translate(base, strict)
        for marker in markers:
            constraints.update(_constraints(marker))
        return annotation, constraints
    if origin is Literal and strict:
        # pydantic takes True for the literal 1 (they compare equal); the
        # contract, like JSON, does not.
        return Annotated[tp, BeforeValidator(_not_a_bool)], {}
    if origin in (Union, types.UnionType):
        options = [_translate(o, strict)[0] for o in get_args(tp)]
        return functools.reduce(operator.or_, options), {}
    if origin is list:
        (item,) = get_args(tp)
        return list[_translate(item, strict)[0]], {}  # type: ignore[misc]
    if origin is dict:
        key, item = get_args(tp)
        return dict[key, _translate(item, strict)[0]], {}  # type: ignore[misc,valid-type]
    if dataclasses.is_dataclass(tp):
        return model_for(tp, strict=strict, name=tp.__name__ + ("In" if strict else "Out")), {}
    return tp, {}


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not one of the allowed values")
    return value


def _constraints(marker: Any) -> dict[str, Any]:
    if isinstance(marker, wire.Size):
        return {k: v for k, v in (("min_length", marker.min), ("max_length", marker.max)) if v is not None}
    if isinstance(marker, wire.Pattern):
        return {"pattern": marker.regex}
    if isinstance(marker, wire.Range):
        return {k: v for k, v in (("ge", marker.ge), ("le", marker.le)) if v is not None}
    if isinstance(marker, wire.About):
        return {"description": marker.text}
    raise TypeError(f"unknown contract marker {marker!r}")


# What tablets send: checked.
DeviceCodeIn = model_for(wire.DeviceCodeRequest, strict=True, name="DeviceCodeIn")
TokenIn = model_for(wire.TokenRequest, strict=True, name="TokenIn")
BatchIn = model_for(wire.BatchRequest, strict=True, name="BatchIn")
SealKeyIn = model_for(wire.SealKeyRequest, strict=True, name="SealKeyIn")
RatingsBatchIn = create_model(  # type: ignore[call-overload]
    "RatingsBatchIn",
    __base__=BatchIn,
    __doc__="BatchIn whose records are all ratings the compiled check vouches for "
            "(server.rating_check), read with the envelope in one pass.",
    records=(Annotated[list[dict[str, Any]], GetPydanticSchema(lambda _tp, _handler: RATINGS_SCHEMA)], Field(...)),
)
"""The common batch's envelope and records checked in one pass over the
JSON: a batch it refuses is read again with :data:`BatchIn`, which words
the refusal, if any (it refuses more than :data:`BatchIn` does)."""

# What the server answers: described.
ErrorOut = model_for(wire.ErrorAnswer, strict=False, name="ErrorOut")
DeviceCodeOut = model_for(wire.DeviceAuthorization, strict=False, name="DeviceCodeOut")
TokenOut = model_for(wire.DeviceGrant, strict=False, name="TokenOut")
BatchOut = model_for(wire.BatchAnswer, strict=False, name="BatchOut")
DeviceHealthOut = model_for(wire.DeviceHealth, strict=False, name="DeviceHealthOut")
RosterOut = model_for(wire.RosterDocument, strict=False, name="RosterOut")
SealKeyOut = model_for(wire.SealKeyAnswer, strict=False, name="SealKeyOut")
