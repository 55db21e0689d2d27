"""Resolve a 'package.module:attribute' string to the object it names."""

from __future__ import annotations

import importlib
from typing import Any


def import_string(dotted: str) -> Any:
    module_name, _, attribute = dotted.partition(':')
    if not module_name or not attribute:
        raise ValueError(f"expected 'package.module:attribute', got {dotted!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f'{module_name} has no attribute {attribute!r}') from None
