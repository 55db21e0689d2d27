"""Content moderation of the child's name and the message, before anything is enqueued.

Everything is compared after one normalization (orders.text.fold: NFKC, then case-folding;
accents are then dropped except the ñ's tilde, so año/ano and coño/cono stay apart), and after
undoing the usual disguises:

- separators between single letters: "p u t a", "p-u-t-a", "p.u.t.a", "m i e r d a";
- separators inside a word: "mier-da", "sh.it", "f*ck";
- stretched letters, any run: "puuuta", "shiiit", "mierrda" (a stretched form matches a listed
  word when both shorten to the same letters and it is no shorter: "asss" is "ass", "as" is not);
- digits and symbols used as letters: "sh1t", "put@", "m13rd4", "$hit", "b!tch".

Matching is by whole token, so "Scunthorpe", "Dickens" or "assistant" never match a shorter
listed word; real first names that are also listed words (allowed_names.txt) pass in the name
field, and in the message when written as a name ("Concha", not "concha"); the child's own name
always passes in the message. Messages may not carry links, domains, e-mail addresses or phone
numbers: Santa would read them out to the child. The word lists are data files in
web/moderation_data/ (docs/web.md, "Moderation", says where they come from and why).
"""

from __future__ import annotations

import logging
import re
from functools import cache, lru_cache
from pathlib import Path

import events
from orders.model import FieldError, Order
from orders.text import fold, strip_accents

log = logging.getLogger(__name__)

DATA = Path(__file__).with_name('moderation_data')

# Digits and symbols read as letters. '1' and '|' stand for i or l: both readings are tried.
_LEET_I = str.maketrans({'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g',
                         '@': 'a', '$': 's', '!': 'i', '|': 'i', '€': 'e', '+': 't'})  # fmt: skip
_LEET_L = str.maketrans({'1': 'l', '|': 'l', '!': 'l'})
_LEET_CHARS = '0134578@$!|€+9'
_RUN = re.compile(r'(.)\1+')
_NOT_LETTER = re.compile(r'[^\w]|[\d_]')
# A chunk is what whitespace separates; its pieces are what any other separator separates.
_PIECE = re.compile(r'[^\W_]+|[@$!|€+*]+')
_EDGE_PUNCTUATION = '!|+*'
_SINGLE = re.compile(r'^[^\W_]$|^[@$!|€+]$')

_URL = re.compile(r'\b[a-z][a-z0-9+.-]*://|\bwww\s*\.|\b(?:https?|ftp)\b', re.IGNORECASE)
_EMAIL = re.compile(r'[\w.+-]+\s*(?:@|\(at\)|\[at\]|\barroba\b)\s*[\w-]+\s*\.\s*[a-z]{2,}', re.IGNORECASE)
# 9 or more digits (a Spanish number has 9, a US one 10), with the separators phone numbers are
# written with; a date (24/12/2026, 24.12.2026: 8 digits) is not one.
_PHONE = re.compile(r'\+?\d(?:[\s().\-]{0,3}\d){8,}')
_SPELLED_DOT = re.compile(r'\b[\w-]+\s+(?:dot|punto)\s+(?:com|net|org)\b', re.IGNORECASE)


def _words(name: str) -> frozenset[str]:
    lines = (DATA / name).read_text(encoding='utf-8').splitlines()
    return frozenset(strip_accents(fold(line.strip())) for line in lines if line.strip() and not line.startswith('#'))


@cache
def blocked_words() -> frozenset[str]:
    return _words('blocked_es.txt') | _words('blocked_en.txt')


@cache
def _stretched() -> dict[str, int]:
    """Each listed word shortened (runs of a letter to one), with the shortest length it stands for."""
    shortest: dict[str, int] = {}
    for word in blocked_words():
        key = _RUN.sub(r'\1', word)
        shortest[key] = min(shortest.get(key, len(word)), len(word))
    return shortest


@cache
def allowed_names() -> frozenset[str]:
    return _words('allowed_names.txt')


@cache
def _domain_pattern() -> re.Pattern[str]:
    tlds = sorted(_words('tlds.txt'), key=len, reverse=True)
    return re.compile(r'\b[\w-]+(?:\.[\w-]+)*\.(?:' + '|'.join(map(re.escape, tlds)) + r')\b', re.IGNORECASE)


def normalize(token: str) -> str:
    return strip_accents(fold(token))


@lru_cache(maxsize=8192)  # orders share most of their words: each is worked out once
def _forms(candidate: str) -> frozenset[str]:
    """The words `candidate` might be hiding: its letters, and its digits/symbols read as letters."""
    base = normalize(candidate)
    forms = {_NOT_LETTER.sub('', base)}
    if any(c in _LEET_CHARS for c in base):
        forms.add(_NOT_LETTER.sub('', base.translate(_LEET_I)))
        forms.add(_NOT_LETTER.sub('', base.translate(_LEET_L).translate(_LEET_I)))
    forms.discard('')
    return frozenset(forms)


def _is_blocked(candidate: str) -> bool:
    blocked, stretched = blocked_words(), _stretched()
    for form in _forms(candidate):
        if form in blocked:
            return True
        shortest = stretched.get(_RUN.sub(r'\1', form))
        if shortest is not None and len(form) >= shortest and len(form) > 1:
            return True
    return False


def candidates(text: str) -> list[tuple[str, bool]]:
    """(candidate, is_a_written_token) pairs: each token, each word without its inner separators,
    and each run of single letters joined. Only written tokens may be exempted as names."""
    found: list[tuple[str, bool]] = []
    singles: list[str] = []

    def flush() -> None:
        if len(singles) >= 3:
            found.append((''.join(singles), False))
        singles.clear()

    for chunk in text.split():
        pieces = _PIECE.findall(chunk)
        # Sentence punctuation at a word's edge is punctuation ("Dick!"); inside, it stands for a letter ("sh!t").
        while pieces and pieces[-1].strip(_EDGE_PUNCTUATION) == '':
            pieces.pop()
        while pieces and pieces[0].strip(_EDGE_PUNCTUATION) == '':
            pieces.pop(0)
        if not pieces:
            continue
        for piece in pieces:
            found.append((piece, True))
        if len(pieces) > 1:
            found.append((''.join(pieces), False))
        for piece in pieces:
            if _SINGLE.match(piece):
                singles.append(piece)
            else:
                flush()
        if not _SINGLE.match(pieces[-1]):
            flush()
    flush()
    return found


def blocked_tokens(text: str, *, exempt: frozenset[str] = frozenset(), names_pass_capitalized: bool) -> list[str]:
    """The candidates of `text` that are listed words (as written), minus the exempt ones."""
    names = allowed_names()
    hits = []
    for candidate, written in candidates(text):
        if written:
            base = normalize(candidate)
            if base in exempt:
                continue
            if base in names and (not names_pass_capitalized or candidate.istitle()):
                continue
        if _is_blocked(candidate):
            hits.append(candidate)
    return hits


def contact_details(message: str) -> bool:
    """Whether the message carries a link, a domain, an e-mail address or a phone number."""
    text = fold(message)
    patterns = (_URL, _EMAIL, _PHONE, _SPELLED_DOT, _domain_pattern())
    return any(pattern.search(text) for pattern in patterns)


def moderate(order: Order) -> list[FieldError]:
    """Field errors for a name or message Santa must not say; empty when both are fine."""
    errors = []
    if blocked_tokens(order.child_name, names_pass_capitalized=False):
        errors.append(FieldError(field='child_name', code='moderation', message='contains words that are not allowed'))
    own_name = frozenset(normalize(t) for t in _PIECE.findall(order.child_name))
    if blocked_tokens(order.message, exempt=own_name, names_pass_capitalized=True):
        errors.append(FieldError(field='message', code='moderation', message='contains words that are not allowed'))
    elif contact_details(order.message):
        errors.append(
            FieldError(field='message', code='link', message='must not contain links, addresses or phone numbers')
        )
    if errors:
        # The words themselves are not logged: they may be someone's personal data.
        log.info(events.ORDER_MODERATED, extra={'video_id': order.video_id, 'fields': [e.field for e in errors]})
    return errors
