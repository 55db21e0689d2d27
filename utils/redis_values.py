"""Redis answers as text: redis-py returns bytes unless the client decodes responses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def texts(values: Iterable[Any]) -> list[str]:
    return [text(v) if isinstance(v, bytes | str) else str(v) for v in values]


def text_dict(raw: dict[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}
