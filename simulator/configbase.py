"""The base of every scenario-file model: unknown keys refused, values frozen once validated,
no boolean taken for a number (pydantic would read ``gpus: true`` as 1), and no infinite or
NaN number anywhere (no key means "unbounded"; an infinity only ever came from a slip)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

_NUMBERS = (int, float, int | None, float | None)


class NotANumber(str):
    """A boolean given where a number belongs: a string no number parses, that the error
    report recognises."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        bad = {k for k, v in data.items()
               if isinstance(v, bool) and k in fields and fields[k].annotation in _NUMBERS}
        if not bad:
            return data
        return {k: NotANumber(str(v).lower()) if k in bad else v for k, v in data.items()}


def inner_model(annotation: Any) -> Any:
    """The model class inside an annotation (``X``, ``X | None``, ``list[X]``...), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = inner_model(arg)
        if found is not None:
            return found
    return None
