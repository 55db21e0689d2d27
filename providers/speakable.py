"""What a speech engine receives is read as words, never as instructions to the engine.

Each engine has control syntax inside plain text: espeak-ng reads `[[ ... ]]` as raw phonemes
(always) and tags as SSML (with -m); ElevenLabs reads `<break time=".."/>` and `<phoneme ph="..">`
tags and, on its newer models, `[audio tags]`. The order model refuses all of these at intake
(orders/text.py); this is the second wall, at each TTS provider's boundary, for any text that
reaches an engine some other way (a template, an admin tool, a future field). Brackets and
angle brackets become spaces, so `[[p'ut@]]` is spoken as the characters p, u, t, @, and the
words of a tag are read out as words. NFKC first, so fullwidth ［［ cannot stand in for [[.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL_SYNTAX = re.compile(r'[\[\]<>{}\\]|&#?\w+;')
_SPACES = re.compile(r'[ \t]{2,}')


def plain_words(text: str) -> str:
    """`text` with every engine's control syntax removed (replaced by spaces)."""
    text = unicodedata.normalize('NFKC', text)
    return _SPACES.sub(' ', _CONTROL_SYNTAX.sub(' ', text)).strip()
