"""The one normalization every name and message passes (orders/text.py), and the bare e-mail rule."""

from __future__ import annotations

from typing import Any

import pytest

from orders import OrderError, parse_order
from orders.model import FieldError
from orders.text import fold
from web import i18n

VALID: dict[str, Any] = {
    'child_name': 'Sofía',
    'age': 6,
    'message': 'Pórtate bien',
    'parent_email': 'mama@example.com',
    'consent': True,
}


def errors(**changes: Any) -> dict[str, FieldError]:
    with pytest.raises(OrderError) as info:
        parse_order({**VALID, **changes})
    return {e.field: e for e in info.value.errors}


@pytest.mark.parametrize('name', ['Joaquín', 'Noël', 'Zdeněk', 'Jürgen', 'Siobhán', 'Łukasz', 'Ægir', 'Þór', 'Çağla'])
def test_latin_names_with_any_diacritic_pass(name: str) -> None:
    assert parse_order({**VALID, 'child_name': name}).child_name == name


@pytest.mark.parametrize(
    ('written', 'stored'),
    [('Ｌｕｃíａ', 'Lucía'), ('𝐌𝐚𝐫𝐢𝐚', 'Maria'), ('Ｈｏｌａ', 'Hola')],
)
def test_compatibility_letters_become_the_letters_they_stand_for(written: str, stored: str) -> None:
    order = parse_order({**VALID, 'child_name': written, 'message': written})
    assert (order.child_name, order.message) == (stored, stored)


@pytest.mark.parametrize('name', ['美咲', 'محمد', 'Дмитрий', 'Νίκος', 'ยุกิ'])
def test_names_in_scripts_the_voice_cannot_read_are_refused_saying_how_to_write_them(name: str) -> None:
    error = errors(child_name=name)['child_name']
    assert error.code == 'script'
    assert 'as it sounds' in error.message
    assert 'tal como suena' in i18n.field_message(error)['es']


@pytest.mark.parametrize('word', ['М\u0430ria', 'Luc\u0456a', 'P\u0430blo', 'Sofi\u03b1'])
def test_words_mixing_scripts_are_refused(word: str) -> None:
    assert errors(child_name=word)['child_name'].code == 'mixed_script'
    assert errors(message=f'Hola {word}')['message'].code == 'mixed_script'


@pytest.mark.parametrize('field', ['child_name', 'message'])
@pytest.mark.parametrize('value', ['A\ud800', '\udfffB', 'x\udcffy'])
def test_lone_surrogates_are_a_field_error_whose_text_can_be_encoded(field: str, value: str) -> None:
    error = errors(**{field: value})[field]
    assert error.code == 'surrogate'
    error.message.encode('utf-8')
    str(OrderError([error])).encode('utf-8')


@pytest.mark.parametrize(
    'message',
    ["Hola [[p'ut@]]", 'Hola [whispers]', 'Hola <break time="3s"/>', 'Hola ［［x］］', '&amp;', '{{name}}'],
)
def test_markup_and_engine_syntax_are_refused_at_intake(message: str) -> None:
    assert errors(message=message)['message'].code == 'markup'


def test_emoji_in_messages_are_refused_as_unreadable() -> None:
    assert errors(message='Te quiero ❤️')['message'].code in ('symbols', 'control')


def test_fold_is_nfkc_then_casefold() -> None:
    assert fold('ＳＴＲＡßＥ') == 'strasse'


@pytest.mark.parametrize(
    'email',
    [
        'Mamá <mama@example.com>',
        '<mama@example.com>',
        'mama@example.com, papa@example.com',
        'mama@example.com; papa@example.com',
        ' mama@example.com',
        'mama@example.com\r\nBcc: x@example.com',
        'mama@example.com\n',
        '"mama" @example.com',
        'mama@example.com (Mamá)',
        'mama @example.com',
        'mama@exa mple.com',
        'ma\ud800ma@example.com',
    ],
)
def test_only_a_bare_address_is_an_email(email: str) -> None:
    assert errors(parent_email=email)['parent_email'].code == 'invalid_email'


@pytest.mark.parametrize('email', ['mama@example.com', 'mamá@ejemplo.es', 'a.b+navidad@sub.example.org'])
def test_bare_addresses_pass(email: str) -> None:
    assert parse_order({**VALID, 'parent_email': email}).parent_email == email
