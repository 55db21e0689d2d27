"""The phrase rules that hold a message for review, read from rules_es.txt and rules_en.txt."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from orders.text import fold, strip_accents

ReviewMode = Literal['off', 'flagged', 'all']
CATEGORIES = ('threat', 'cruelty', 'rejection', 'body_shaming', 'adult')
RULE_FILES = ('rules_es.txt', 'rules_en.txt')
_HERE = Path(__file__).parent
_SPACES = re.compile(r'\s+')
# Punctuation between words is a pause, not part of the phrase ("nadie, te quiere" is still it).
_PUNCTUATION = re.compile(r"[^\w\s']")


@cache
def rules() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(category, pattern) for every rule of both languages: both apply whatever the order's language."""
    found = []
    for name in RULE_FILES:
        for number, line in enumerate((_HERE / name).read_text(encoding='utf-8').splitlines(), 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            category, sep, pattern = line.partition(':')
            if not sep or category not in CATEGORIES:
                raise ValueError(f'{name}:{number}: expected "category: pattern" with one of {CATEGORIES}')
            found.append((category, re.compile(pattern.strip())))
    return tuple(found)


def normalized(message: str) -> str:
    text = strip_accents(fold(message)).replace('\u2019', "'")
    return _SPACES.sub(' ', _PUNCTUATION.sub(' ', text)).strip()


def matching(message: str) -> list[str]:
    """The categories whose rules match `message`, each once, in rule order."""
    text = normalized(message)
    hits: list[str] = []
    for category, pattern in rules():
        if category not in hits and pattern.search(text):
            hits.append(category)
    return hits


def flags(message: str, mode: ReviewMode) -> list[str]:
    """Why an order with `message` must wait for a person; empty: it goes straight to the queue."""
    if mode == 'off' or not message.strip():
        return []
    if mode == 'all':
        return ['all', *matching(message)]
    return matching(message)
