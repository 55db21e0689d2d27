"""Decoding request bodies so that no input can raise past the handler.

JSON is checked for nesting depth before it is decoded: the standard decoder recurses once
per level, and a body of a few thousand brackets would end in RecursionError. Lone surrogates
(a `\\ud800` escape, or the raw CESU-8 bytes ED A0 80) decode to a lone surrogate code point
instead of an error, so that the order model can refuse the field that holds them with a 422;
any other invalid UTF-8 is a 400.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

#: Far deeper than any order (which is one flat object), far shallower than the recursion limit.
MAX_JSON_DEPTH = 32

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb'[\[\]{}]')


class BodyError(ValueError):
    """The body cannot be read; `code` is the error code of web/i18n.py."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in `raw`, brackets inside strings not counted."""
    depth = deepest = 0
    # Regexes in C do the byte walking; Python only sees the brackets.
    for match in _BRACKETS.finditer(_JSON_STRING.sub(b'""', raw)):
        if match.group() in b'[{':
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def decode_json(raw: bytes) -> Any:
    """The JSON value of `raw`, or BodyError('invalid_json' / 'json_too_deep')."""
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise BodyError('json_too_deep')
    try:
        text = raw.decode('utf-8', 'surrogatepass')
    except UnicodeDecodeError:
        raise BodyError('invalid_json') from None
    try:
        return json.loads(text.removeprefix('\ufeff'))
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers longer than Python converts.
        raise BodyError('invalid_json') from None


def decode_form(raw: bytes) -> dict[str, str]:
    """The fields of an urlencoded form (the last value of a repeated name wins)."""
    try:
        pairs = parse_qsl(raw.decode('utf-8', 'surrogatepass'), keep_blank_values=True, errors='surrogatepass')
    except (UnicodeDecodeError, ValueError):
        raise BodyError('invalid_body') from None
    return dict(pairs)


def printable_field(name: str, limit: int = 64) -> str:
    """A field name from the request, safe to put in an error body: encodable and short."""
    safe = name.encode('utf-8', 'backslashreplace').decode('utf-8')
    return safe if len(safe) <= limit else safe[:limit] + '…'
