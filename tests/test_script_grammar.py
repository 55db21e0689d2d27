"""Every script template × age band × gender × language agrees with the child's gender, and
the respelling is spoken while the name as typed is written."""

from __future__ import annotations

import re
from typing import Any

import pytest

import papa_noel_config as persona
from orders import OrderError, build_script, greeting, parse_order, render_script, written_script

# Words that carry a gender in the templates' agreeing forms (lower case, whole words).
GENDERED: dict[str, dict[str, frozenset[str]]] = {
    'es': {
        'boy': frozenset({'bueno', 'niño', 'chico', 'estupendo', 'listo', 'guapo'}),
        'girl': frozenset({'buena', 'niña', 'chica', 'estupenda', 'lista', 'guapa'}),
    },
    'en': {
        'boy': frozenset({'boy', 'man', 'son', 'he', 'him', 'his'}),
        'girl': frozenset({'girl', 'woman', 'daughter', 'she', 'her', 'hers'}),
    },
}
BANDS = [
    (language, template.min_age, template.max_age)
    for language in persona.LANGUAGES
    for template in persona.SCRIPT_TEMPLATES[language]
]
BASE: dict[str, Any] = {'child_name': 'Alex', 'parent_email': 'mama@example.com', 'consent': True}


def words(text: str) -> set[str]:
    return {w.casefold() for w in re.findall(r'\w+', text)}


@pytest.mark.parametrize('with_message', [False, True], ids=['no-message', 'message'])
@pytest.mark.parametrize('gender', persona.GENDERS)
@pytest.mark.parametrize('age', ['min', 'max'])
@pytest.mark.parametrize(('language', 'min_age', 'max_age'), BANDS, ids=[f'{b[0]}-{b[1]}-{b[2]}' for b in BANDS])
def test_every_template_agrees_with_the_gender(
    language: str, min_age: int, max_age: int, age: str, gender: str, with_message: bool
) -> None:
    order = parse_order({**BASE, 'language': language, 'gender': gender, 'age': min_age if age == 'min' else max_age,
                         'message': 'Estamos orgullosos de ti' if with_message else ''})  # fmt: skip
    text = render_script(order)
    found = words(text)
    own, other = GENDERED[language].get(gender, frozenset()), set[str]()
    for name, forms in GENDERED[language].items():
        if name != gender:
            other |= forms
    assert '[' not in text and '|' not in text, text
    assert not found & other, f'{gender}: {sorted(found & other)} in {text!r}'
    if gender == 'neutral':
        assert not found & set().union(*GENDERED[language].values()), text
    else:
        # Each band has an agreeing form: a gendered child hears it.
        assert found & own, f'{gender}: none of {sorted(own)} in {text!r}'


@pytest.mark.parametrize('language', persona.LANGUAGES)
def test_the_parents_message_is_passed_on_as_their_words(language: persona.Language) -> None:
    order = parse_order({**BASE, 'language': language, 'age': 7, 'message': 'we are proud of you'})
    bridge = persona.MESSAGE_BRIDGE[language].format(message='we are proud of you.')
    assert bridge in render_script(order)
    intro = {'es': 'Tus papás me han pedido que te diga:', 'en': 'Your parents asked me to tell you:'}
    assert intro[language] in bridge


def test_gender_defaults_to_neutral_and_refuses_anything_else() -> None:
    assert parse_order({**BASE, 'age': 7}).gender == 'neutral'
    with pytest.raises(OrderError) as info:
        parse_order({**BASE, 'age': 7, 'gender': 'other'})
    assert [e.field for e in info.value.errors] == ['gender']


def test_the_respelling_is_spoken_and_the_name_as_typed_is_written() -> None:
    order = parse_order({**BASE, 'child_name': 'Xavi', 'name_pronunciation': 'Chabi', 'age': 7})
    assert 'Chabi' in render_script(order) and 'Xavi' not in render_script(order)
    assert 'Xavi' in written_script(order) and 'Chabi' not in written_script(order)
    script = build_script(order)
    assert [p.written for p in script.pieces if p.spoken == 'Chabi'] == ['Xavi', 'Xavi']
    hello = greeting('Xavi', 'Chabi', 'es')
    assert (hello.spoken, hello.written) == ('¡Hola, Chabi!', '¡Hola, Xavi!')
    assert parse_order({**BASE, 'age': 7, 'name_pronunciation': ' '}).name_pronunciation is None


@pytest.mark.parametrize('bad', ['<b>Chabi</b>', '1234', 'Cha{bi}', 'x' * 41])
def test_the_respelling_is_validated_like_the_name(bad: str) -> None:
    with pytest.raises(OrderError) as name_info:
        parse_order({**BASE, 'age': 7, 'child_name': bad})
    with pytest.raises(OrderError) as info:
        parse_order({**BASE, 'age': 7, 'name_pronunciation': bad})
    assert [e.field for e in info.value.errors] == ['name_pronunciation']
    assert [e.message for e in info.value.errors] == [e.message for e in name_info.value.errors]


def test_formats_default_to_vertical_and_are_read_from_a_form() -> None:
    assert parse_order({**BASE, 'age': 7}).formats == ('9:16',)
    assert parse_order({**BASE, 'age': 7, 'formats': '16:9, 1:1,16:9'}).formats == ('16:9', '1:1')
    with pytest.raises(OrderError) as info:
        parse_order({**BASE, 'age': 7, 'formats': ['4:3']})
    assert info.value.errors[0].field.startswith('formats')
