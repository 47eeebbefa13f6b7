"""What the fake knows of each Bot API method's parameters, taken from aiogram's method models.

Form-encoded requests carry every value as a string (objects and lists JSON-encoded), so the
fake needs to know which parameters are text (``text``, ``caption``…) to keep them as sent and
which to JSON-decode (``chat_id``, ``reply_markup``…), and which are required.
"""

from __future__ import annotations

import contextlib
import json
import types
import typing
from functools import cache
from typing import Any

import aiogram.methods
from aiogram.client.default import Default
from aiogram.types import InputFile
from pydantic import BaseModel

from tests.fakes._server import UploadedFile

_TEXT_TYPES = {str, InputFile, Default, type(None)}


@cache
def _models() -> dict[str, type[BaseModel]]:
    """Bot API method name, lower-cased (the API ignores case), to aiogram's model of it."""
    found: dict[str, type[BaseModel]] = {}
    for name in aiogram.methods.__all__:
        model = getattr(aiogram.methods, name)
        api_name = getattr(model, "__api_method__", None)
        if isinstance(api_name, str):
            found[api_name.lower()] = model
    return found


def canonical_method(name: str) -> str:
    """``sendmessage`` → ``sendMessage``; unknown names come back unchanged."""
    model = _models().get(name.lower())
    return model.__api_method__ if model is not None else name  # type: ignore[attr-defined]


def _required(model: type[BaseModel]) -> list[str]:
    return [
        field.alias or name for name, field in model.model_fields.items() if field.is_required()
    ]


@cache
def _text_params(method: str) -> frozenset[str]:
    model = _models().get(method.lower())
    if model is None:
        return frozenset()
    text = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        members = set(typing.get_args(annotation)) if _is_union(annotation) else {annotation}
        if members <= _TEXT_TYPES:
            text.add(field.alias or name)
    return frozenset(text)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def decode_params(
    method: str, raw: dict[str, Any], files: dict[str, UploadedFile]
) -> dict[str, Any]:
    """Typed parameters: JSON-decoded where the API expects non-text, ``attach://`` resolved."""
    text = _text_params(method)
    params: dict[str, Any] = {}
    attached: set[str] = set()
    for key, value in raw.items():
        if isinstance(value, str) and key not in text:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if isinstance(value, str) and value.startswith("attach://"):
            attached.add(value.removeprefix("attach://"))
            value = files.get(value.removeprefix("attach://"), value)
        params[key] = value
    for key, upload in files.items():  # a file sent directly as the parameter
        if key not in attached:
            params.setdefault(key, upload)
    return params


def missing_params(method: str, params: dict[str, Any]) -> str | None:
    """The first required parameter the request lacks, as the real API rejects such calls."""
    model = _models().get(method.lower())
    if model is None:
        return None
    return next((name for name in _required(model) if name not in params), None)


def returns_bool(method: str) -> bool:
    """Whether the API answers ``method`` with a plain ``True`` (leaveChat, setChatPermissions…)."""
    model = _models().get(method.lower())
    return model is not None and getattr(model, "__returning__", None) is bool
