"""Moderation sees words, not spellings: disguised words are refused, real names and innocent words
pass (the Scunthorpe problem), and messages carry no links, addresses or phone numbers."""

from __future__ import annotations

from typing import Any

import pytest

from orders import parse_order
from web.moderation import blocked_words, contact_details, moderate

VALID: dict[str, Any] = {
    'child_name': 'Sofía',
    'age': 6,
    'message': 'Pórtate bien',
    'parent_email': 'mama@example.com',
    'consent': True,
}


def refused(**changes: Any) -> dict[str, str]:
    return {e.field: e.code for e in moderate(parse_order({**VALID, **changes}))}


@pytest.mark.parametrize(
    'message',
    [
        'eres una puta',
        'Eres una PUTA',
        'eres una p u t a',
        'eres una p-u-t-a',
        'eres una p.u.t.a',
        'eres una p_u_t_a',
        'eres una p*u*t*a',
        'eres una puuuuuta',
        'eres una puuta',
        'eres una put@',
        'eres una pvt@'.replace('v', 'u'),
        'eres una ｐｕｔａ',
        'eres una 𝐩𝐮𝐭𝐚',
        'eres una mier-da',
        'eres una m13rd4',
        'eres una mierrrrda',
        'eres un m i e r d a',
        'you little sh1t',
        'you little $hit',
        'you little sh!t',
        'you little sh.it',
        'you little shiiiit',
        'you are a b!tch',
        'f*ck you',
        'f u c k',
        'YOU ARE A DICK',
        'eres un cagón',
        'eres un caca',
    ],
)
def test_disguised_words_are_refused(message: str) -> None:
    assert refused(message=message) == {'message': 'moderation'}


@pytest.mark.parametrize(
    'name', ['Puta', 'Mierda Pérez', 'Caca', 'Pvta'.replace('v', 'u'), 'Ｐｏｏｐ', 'Shiiit', 'Cagón']
)
def test_insulting_or_scatological_names_are_refused(name: str) -> None:
    assert refused(child_name=name, message='') == {'child_name': 'moderation'}


@pytest.mark.parametrize(
    'changes',
    [
        {'child_name': 'Dick', 'message': 'Merry Christmas, Dick!'},
        {'child_name': 'Fanny', 'message': ''},  # a Spanish name, an English word
        {'child_name': 'Concha', 'message': 'Saluda a la tía Concha y a Dick de mi parte'},  # and the other way
        {'child_name': 'Dickens', 'message': 'Scunthorpe is lovely, says my assistant'},
        {'child_name': 'Ana', 'message': 'Feliz año y un cono de helado'},
        {'child_name': 'Joaquín', 'message': 'Pásalo bien en la clase de inglés con Cassandra'},
        {'child_name': 'Hitchcock', 'message': 'Ana y Eva y o u a e'},
        {'child_name': 'Shitaye', 'message': 'Vamos a Sussex el 24/12/2026'},
        {'child_name': 'Analía', 'message': 'Tienes 6 años y 2 hermanos, ¡y sacaste un 10!'},
        {'child_name': 'Matías', 'message': 'El punto es que te queremos mucho. Hola.Adiós'},
    ],
)
def test_real_names_and_innocent_words_pass(changes: dict[str, Any]) -> None:
    assert refused(**changes) == {}


@pytest.mark.parametrize(
    'message',
    [
        'mira https://example.org',
        'entra en www.ejemplo.es',
        'visita ejemplo.com',
        'visita ejemplo punto com',
        'escríbeme a mama@correo.es',
        'escríbeme a mama arroba correo.es',
        'llámame al +34 600 123 456',
        'llámame al 600-12-34-56',
        'call me at (555) 123-4567',
        'visita ｅｊｅｍｐｌｏ．ｃｏｍ',
    ],
)
def test_links_addresses_and_phone_numbers_are_refused_in_messages(message: str) -> None:
    assert refused(message=message) == {'message': 'link'}
    assert contact_details(message)


def test_word_lists_are_data_files_in_both_languages() -> None:
    words = blocked_words()
    assert {'puta', 'mierda', 'fuck', 'shit'} <= words
