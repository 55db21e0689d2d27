"""The personalized text Papá Noel says, rendered from the persona's templates.

A script has two texts that differ only where the name is: what is spoken (the name's
respelling, when the parent gave one) and what is written (the name as typed), for the
subtitles and everything else a parent reads. Both are built from one list of pieces, so
a piece's place in the spoken text says when its written words are heard.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import papa_noel_config as persona
from orders.model import Order

# `[boy|girl|neutral]` in a template: one form per grammatical gender.
_CHOICE = re.compile(r'\[([^\[\]|]*)\|([^\[\]|]*)\|([^\[\]|]*)\]')
_GENDER_INDEX = {'boy': 1, 'girl': 2, 'neutral': 3}


@dataclass(frozen=True)
class Piece:
    spoken: str
    written: str


@dataclass(frozen=True)
class Script:
    pieces: tuple[Piece, ...]

    @property
    def spoken(self) -> str:
        return ''.join(p.spoken for p in self.pieces)

    @property
    def written(self) -> str:
        return ''.join(p.written for p in self.pieces)


def gendered(text: str, gender: str) -> str:
    """A template's text with each `[boy|girl|neutral]` choice resolved."""
    index = _GENDER_INDEX[gender]
    return _CHOICE.sub(lambda match: match.group(index), text)


def _pieces(template: str, spoken_name: str, written_name: str, values: dict[str, str]) -> list[Piece]:
    # Values are substituted once; braces inside a name or message are never re-read as fields.
    pieces: list[Piece] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(Piece(literal, literal))
        if field is None:
            continue
        if field == 'name':
            pieces.append(Piece(spoken_name, written_name))
        else:
            pieces.append(Piece(values[field], values[field]))
    return pieces


def build_script(order: Order) -> Script:
    template = next(t for t in persona.SCRIPT_TEMPLATES[order.language] if t.min_age <= order.age <= t.max_age)
    message_sentence = ''
    if order.message:
        message = order.message if order.message[-1] in '.!?…' else order.message + '.'
        message_sentence = persona.MESSAGE_BRIDGE[order.language].format(message=message)
    values = {'age': str(order.age), 'message_sentence': message_sentence}
    text = gendered(template.text, order.gender)
    return Script(tuple(_pieces(text, order.spoken_name, order.child_name, values)))


def render_script(order: Order) -> str:
    """What Papá Noel says (the name as it sounds)."""
    return build_script(order).spoken


def written_script(order: Order) -> str:
    """What Papá Noel says, as a parent reads it (the name as typed)."""
    return build_script(order).written


def greeting(child_name: str, name_pronunciation: str | None, language: persona.Language) -> Script:
    """The name preview's words: the greeting every script opens with."""
    return Script(tuple(_pieces(persona.GREETING[language], name_pronunciation or child_name, child_name, {})))
