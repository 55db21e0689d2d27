from __future__ import annotations

from typing import Any

import pytest

from orders import OrderError, parse_order, render_script

VALID: dict[str, Any] = {
    'child_name': 'Sofía',
    'age': 6,
    'message': 'Pórtate bien con tu hermano',
    'parent_email': 'mama@example.com',
    'consent': True,
}


def order(**changes: Any) -> Any:
    return parse_order({**VALID, **changes})


def field_errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(OrderError) as info:
        order(**changes)
    return {e.field: e.message for e in info.value.errors}


@pytest.mark.parametrize('name', ['Sofía', 'José Luis', "D'Artagnan", 'Ana-María', 'Zoë', 'Ñandú', 'Łukasz', 'Müller'])
def test_real_names_with_accents_hyphens_and_apostrophes_are_accepted(name: str) -> None:
    assert order(child_name=name).child_name == name


def test_text_is_unicode_normalized_and_whitespace_collapsed() -> None:
    decomposed = 'Sofi\u0301a'  # i + combining acute
    o = order(child_name=f'  {decomposed}   Pérez ', message='Hola\n\n  mundo')
    assert o.child_name == 'Sofía Pérez'
    assert o.message == 'Hola mundo'


def test_typographic_apostrophe_becomes_plain() -> None:
    assert order(child_name='D\u2019Angelo').child_name == "D'Angelo"


@pytest.mark.parametrize(
    ('changes', 'field'),
    [
        ({'child_name': ''}, 'child_name'),
        ({'child_name': 'A' * 41}, 'child_name'),
        ({'child_name': 'Ana3'}, 'child_name'),
        ({'child_name': '<script>'}, 'child_name'),
        ({'child_name': '-Ana'}, 'child_name'),
        ({'child_name': 'Ana\x00'}, 'child_name'),
        ({'age': 0}, 'age'),
        ({'age': 18}, 'age'),
        ({'age': 6.5}, 'age'),
        ({'age': True}, 'age'),
        ({'age': 'seis'}, 'age'),
        ({'message': 'x' * 301}, 'message'),
        ({'message': 'hola <b>mundo</b>'}, 'message'),
        ({'message': 'hola &amp; adiós'}, 'message'),
        ({'message': 'hola\x1b[31m'}, 'message'),
        ({'message': 'hola\u202emundo'}, 'message'),
        ({'parent_email': 'not-an-email'}, 'parent_email'),
        ({'language': 'fr'}, 'language'),
        ({'consent': False}, 'consent'),
        ({'order_id': '../../etc/passwd'}, 'order_id'),
        ({'surprise': 1}, 'surprise'),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], field: str) -> None:
    assert field in field_errors(**changes)


def test_every_bad_field_is_reported_at_once() -> None:
    errors = field_errors(child_name='', age=99, parent_email='x', consent=False)
    assert set(errors) == {'child_name', 'age', 'parent_email', 'consent'}


def test_missing_required_fields_are_named() -> None:
    with pytest.raises(OrderError) as info:
        parse_order({})
    assert {e.field for e in info.value.errors} >= {'child_name', 'age', 'parent_email', 'consent'}


def test_defaults_spanish_and_form_strings_are_accepted() -> None:
    o = order(age='7', message=None)
    assert (o.language, o.age, o.message) == ('es', 7, '')
    assert o.video_id == o.order_id and len(o.order_id) == 32


def test_script_names_the_child_and_carries_the_message() -> None:
    text = render_script(order())
    assert text.count('Sofía') >= 2
    assert 'Pórtate bien con tu hermano.' in text
    assert '6 años' in text


@pytest.mark.parametrize('age', [3, 7, 14])
def test_script_differs_by_age_band(age: int) -> None:
    texts = {render_script(order(age=a)) for a in (3, 7, 14)}
    assert len(texts) == 3
    assert str(age) in render_script(order(age=age))


def test_english_script() -> None:
    text = render_script(order(language='en', message='Be kind'))
    assert 'Merry Christmas, Sofía!' in text and 'Be kind.' in text


def test_script_without_message_has_no_bridge() -> None:
    assert 'mensaje especial' not in render_script(order(message=''))


def test_braces_in_a_message_are_said_literally() -> None:
    assert '{name} y {age}' in render_script(order(message='{name} y {age}'))
