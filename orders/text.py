"""One normalization for the text Santa will say, and the checks every name and message passes.

`speakable(value, kind)` is the only way a name or a message enters an order: it refuses text
that cannot be encoded (lone UTF-16 surrogates), control and format characters, markup and
speech-engine control syntax, then applies NFKC (fullwidth and mathematical letters become the
letters they stand for) and collapses whitespace, and finally refuses letters from scripts the
voices (es, en) cannot read and words that mix scripts (Latin look-alikes from Cyrillic or Greek).
`fold()` is the form every later check compares: NFKC, then case-folded.

Errors are pydantic's custom errors with a code of their own (web/i18n.py words them for
parents); their English text never repeats the refused characters raw, only as U+XXXX, so an
error message can always be encoded, logged and printed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

from confusable_homoglyphs import categories, confusables
from pydantic_core import PydanticCustomError

Kind = Literal['name', 'message']

#: The scripts the voices can read (the es and en voices speak Latin letters, all diacritics
#: included). Script data is confusable_homoglyphs' copy of Unicode's Scripts.txt, not a table here.
SPOKEN_SCRIPTS = frozenset({'LATIN'})
NAME_PUNCTUATION = frozenset(" -'")

# Markup and speech-engine control syntax, refused at intake (providers/speakable.py also makes
# each engine read it as words: defence in depth). < > tags (SSML, ElevenLabs <break>/<phoneme>),
# &entities;, [ ] (espeak's [[phonemes]], ElevenLabs' [audio tags]), and {{ }} templates.
_MARKUP = re.compile(r'[<>\[\]]|&#?\w+;|\{\{|\}\}')
_WHITESPACE = re.compile(r'\s+')
_SURROGATE = re.compile('[\ud800-\udfff]')
# Typographic apostrophes are normalized to the ASCII one the name rule allows.
_APOSTROPHES = str.maketrans({'\u2019': "'", '\u02bc': "'", '\u2018': "'"})
# Blocks whose letters are all Latin and whose other characters are Common or Inherited (Basic
# Latin, Latin-1, Latin Extended-A/B, combining diacritics, Latin Extended Additional, general
# punctuation, currency signs). Not a homoglyph table: a fast path, because the library reads its
# script data (~0.3-0.7 s) on first use, and the order model also runs whenever a worker or the
# status API reads a job record; the data is loaded only for text with a character outside these.
_LATIN_BLOCKS = re.compile('[\u0000-\u024f\u0300-\u036f\u1e00-\u1eff\u2000-\u206f\u20a0-\u20cf]*\\Z')
# Words, for the mixed-script check: runs of letters and marks.
_WORD = re.compile(r'[^\W\d_]+', re.UNICODE)
# In messages: letters, digits, marks, spaces and punctuation are words or their pauses; currency
# and maths signs are read as words. Other symbols (emoji, dingbats) come out as gibberish.
_MESSAGE_CATEGORIES = ('L', 'M', 'Nd', 'P', 'Zs', 'Sc', 'Sm')


def fold(text: str) -> str:
    """The form every check compares: NFKC, then case-folded (ß -> ss, fullwidth -> ASCII)."""
    return unicodedata.normalize('NFKC', text).casefold()


@lru_cache(maxsize=8192)
def strip_accents(text: str) -> str:
    """Without accents, except the ñ's tilde: a letter of its own in Spanish (año/ano, coño/cono)."""
    decomposed = unicodedata.normalize('NFD', text)
    kept = []
    for index, char in enumerate(decomposed):
        if unicodedata.combining(char):
            if char == '\u0303' and index and decomposed[index - 1] == 'n':
                kept.append(char)
            continue
        kept.append(char)
    return unicodedata.normalize('NFC', ''.join(kept))


def codepoints(chars: str | set[str]) -> str:
    return ' '.join(f'U+{ord(c):04X}' for c in sorted(set(chars)))


def script_of(char: str) -> str:
    """The Unicode script of one character ('LATIN', 'CYRILLIC', 'COMMON', ...)."""
    return str(categories.aliases_categories(char)[0])


def speakable(value: str, kind: Kind) -> str:
    """`value` normalized for speech, or a PydanticCustomError saying what is wrong with it."""
    if _SURROGATE.search(value):
        # A lone surrogate is half of a character: it cannot be encoded, spoken or stored.
        raise PydanticCustomError('surrogate', 'contains text that is not valid Unicode (a lone surrogate)')
    for char in value:
        if unicodedata.category(char) in ('Cc', 'Cf', 'Co', 'Cn', 'Cs') and char not in '\n\t':
            raise PydanticCustomError('control', 'contains a control character ({chars})', {'chars': codepoints(char)})
    value = unicodedata.normalize('NFKC', value)
    if _MARKUP.search(value):
        raise PydanticCustomError('markup', 'must be plain text, without markup such as < > [ ] or &entities;')
    value = _WHITESPACE.sub(' ', value).strip()
    if kind == 'name':
        value = value.translate(_APOSTROPHES)
        _check_name_characters(value)
    else:
        _check_message_characters(value)
    _check_scripts(value)
    return value


def _check_name_characters(name: str) -> None:
    if not name:
        raise PydanticCustomError('required', 'is required')
    if not name[0].isalpha():
        raise PydanticCustomError('start_letter', 'must start with a letter')
    bad = {c for c in name if not (c.isalpha() or unicodedata.category(c).startswith('M') or c in NAME_PUNCTUATION)}
    if bad:
        raise PydanticCustomError(
            'letters_only',
            'may contain only letters, spaces, hyphens and apostrophes; found: {chars}',
            {'chars': codepoints(bad)},
        )


def _check_message_characters(message: str) -> None:
    bad = {c for c in message if not unicodedata.category(c).startswith(_MESSAGE_CATEGORIES)}
    if bad:
        raise PydanticCustomError(
            'symbols', 'contains symbols Santa cannot read aloud: {chars}', {'chars': codepoints(bad)}
        )


def _check_scripts(value: str) -> None:
    if _LATIN_BLOCKS.match(value):
        return
    letters = {c for c in value if c.isalpha()}
    foreign = {c for c in letters if script_of(c) not in SPOKEN_SCRIPTS}
    for word in _WORD.findall(value):
        # A word that mixes scripts is a homoglyph disguise ("Маria" with a Cyrillic М).
        if confusables.is_mixed_script(word, allowed_aliases=['COMMON', 'INHERITED']):
            raise PydanticCustomError(
                'mixed_script',
                'mixes letters of different alphabets ({chars}); type it again with a Latin keyboard',
                {'chars': codepoints({c for c in word if script_of(c) not in SPOKEN_SCRIPTS})},
            )
    if foreign:
        raise PydanticCustomError(
            'script',
            'uses letters Santa cannot read ({chars}): write it in Latin letters as it sounds, e.g. "Yuki", "Omar"',
            {'chars': codepoints(foreign)},
        )
