"""Content moderation of the child's name and the message, before anything is enqueued.

Whole tokens only, so "Scunthorpe", "Dickens" or "assistant" never match a shorter bad word.
Tokens are compared case- and accent-insensitively (ñ kept apart from n), with common
obfuscations undone: digits and symbols standing for letters ("sh1t", "put@", "f*ck") and
letters stretched by repetition ("fuuuck"). Real names that are also bad words pass in the
name field (web/moderation_words.py: NAME_ALLOWLIST) and, written as a name ("Concha", not
"concha" or "CONCHA"), in the message; the child's own name always passes in the message.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import events
from orders.model import FieldError, Order
from web.moderation_words import BLOCKED_EN, BLOCKED_ES, NAME_ALLOWLIST

log = logging.getLogger(__name__)

_TOKEN = re.compile(r'[^\W_]+(?:[@$*][^\W_]*)*|[@$]', re.UNICODE)
_LEET = str.maketrans({'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'})
_RUN_OF_THREE = re.compile(r'(.)\1{2,}')
_TILDE = '\u0303'


@lru_cache(maxsize=8192)
def normalize(token: str) -> str:
    """Lowercase, without accents except the ñ's tilde."""
    decomposed = unicodedata.normalize('NFD', token.casefold())
    kept = []
    for index, char in enumerate(decomposed):
        if unicodedata.combining(char):
            # ñ is a letter of its own in Spanish: año/ano, coño/cono must not meet.
            if char == _TILDE and index and decomposed[index - 1] == 'n':
                kept.append(char)
            continue
        kept.append(char)
    return unicodedata.normalize('NFC', ''.join(kept))


def _normalize_words(words: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize(word) for word in words)


BLOCKED = _normalize_words(BLOCKED_ES | BLOCKED_EN)
ALLOWED_NAMES = _normalize_words(NAME_ALLOWLIST)


@lru_cache(maxsize=8192)  # orders share most of their words: each is worked out once
def _variants(token: str) -> frozenset[str]:
    """The forms a token might be hiding: as written, de-leeted, and with stretched letters shortened."""
    base = normalize(token)
    forms = {base}
    if any(c.isalpha() for c in base):
        forms.add(base.translate(_LEET).replace('*', ''))
    for form in list(forms):
        forms.add(_RUN_OF_THREE.sub(r'\1', form))
        forms.add(_RUN_OF_THREE.sub(r'\1\1', form))
    return frozenset(forms)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def blocked_tokens(text: str, *, exempt: frozenset[str] = frozenset(), names_pass_capitalized: bool) -> list[str]:
    """The tokens of `text` that are on a block list (as written), minus the exempt ones."""
    found = []
    for token in tokens(text):
        forms = _variants(token)
        base = normalize(token)
        if base in exempt:
            continue
        if base in ALLOWED_NAMES and (not names_pass_capitalized or token.istitle()):
            continue
        if forms & BLOCKED:
            found.append(token)
    return found


def moderate(order: Order) -> list[FieldError]:
    """Field errors for a name or message Santa must not say; empty when both are fine."""
    errors = []
    if blocked_tokens(order.child_name, names_pass_capitalized=False):
        errors.append(FieldError(field='child_name', code='moderation', message='contains words that are not allowed'))
    own_name = frozenset(normalize(t) for t in tokens(order.child_name))
    if blocked_tokens(order.message, exempt=own_name, names_pass_capitalized=True):
        errors.append(FieldError(field='message', code='moderation', message='contains words that are not allowed'))
    if errors:
        # The words themselves are not logged: they may be someone's personal data.
        log.info(events.ORDER_MODERATED, extra={'video_id': order.video_id, 'fields': [e.field for e in errors]})
    return errors
