"""The parents' e-mails, in the order's language: multipart text + HTML.

Every sentence about what happens next must be true of the code: the link is the lasting order
page (web/order_page.py), the date is when privacy.retention deletes the video, and the
failure e-mail says what the dead-letter queue and a later admin retry actually do.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from orders.model import Order

_MONTHS_ES = ('enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto', 'septiembre', 'octubre',
              'noviembre', 'diciembre')  # fmt: skip


def first_name(child_name: str) -> str:
    return child_name.split(' ', 1)[0]


def long_date(moment: float, language: str) -> str:
    day = datetime.fromtimestamp(moment, UTC)
    if language == 'es':
        return f'{day.day} de {_MONTHS_ES[day.month - 1]} de {day.year}'
    return f'{day.strftime("%B")} {day.day}, {day.year}'


@dataclass(frozen=True)
class Letter:
    subject: str
    paragraphs: tuple[str, ...]
    link: str = ''
    link_label: str = ''


def ready_letter(order: Order, page_url: str, available_until: float, retention_days: int) -> Letter:
    name = first_name(order.child_name)
    until = long_date(available_until, order.language)
    if order.language == 'en':
        return Letter(
            subject=f"Santa's video for {name} is ready",
            paragraphs=(
                'Hello,',
                f'Santa has finished the video for {name}. Open the link to watch it or download it:',
                f'It stays available until {until} ({retention_days} days from today). On that day we delete '
                'the video and everything you told us about this order.',
                'Want it deleted sooner? Open the link and press "Delete this video now": it is deleted at once.',
                'Merry Christmas!',
            ),
            link=page_url,
            link_label=f"Watch {name}'s video",
        )
    return Letter(
        subject=f'El vídeo de Papá Noel para {name} está listo',
        paragraphs=(
            'Hola:',
            f'Papá Noel ha terminado el vídeo para {name}. Abre el enlace para verlo o descargarlo:',
            f'Estará disponible hasta el {until} ({retention_days} días desde hoy). Ese día borramos el vídeo '
            'y todo lo que nos contaste en este pedido.',
            '¿Quieres borrarlo antes? Abre el enlace y pulsa «Borrar este vídeo ahora»: se borra en el momento.',
            '¡Feliz Navidad!',
        ),
        link=page_url,
        link_label=f'Ver el vídeo de {name}',
    )


def failed_letter(order: Order, page_url: str, retention_days: int) -> Letter:
    name = first_name(order.child_name)
    if order.language == 'en':
        return Letter(
            subject=f"We couldn't make {name}'s video from Santa",
            paragraphs=(
                'Hello,',
                f"We're sorry: we tried several times and could not make the video for {name}.",
                'Your order is now waiting for our team. If they can make the video, you will get another '
                'e-mail with the link; you do not need to order again.',
                f'If it cannot be made, your order and its details are deleted {retention_days} days from today. '
                'You can follow it on its page:',
            ),
            link=page_url,
            link_label='Your order page',
        )
    return Letter(
        subject=f'No hemos podido crear el vídeo de Papá Noel para {name}',
        paragraphs=(
            'Hola:',
            f'Lo sentimos: lo hemos intentado varias veces y no hemos podido crear el vídeo para {name}.',
            'Tu pedido queda ahora en manos de nuestro equipo. Si consiguen crearlo, te llegará otro correo '
            'con el enlace; no hace falta que lo pidas de nuevo.',
            f'Si no se puede crear, borraremos tu pedido y sus datos dentro de {retention_days} días. '
            'Puedes seguirlo en su página:',
        ),
        link=page_url,
        link_label='La página de tu pedido',
    )


def build_email(letter: Letter, *, sender: str, recipient: str, message_id_seed: str,
                language: str, poster: Path | None = None) -> EmailMessage:  # fmt: skip
    """A multipart/alternative message (text, then HTML); with a poster, the HTML shows it inline."""
    message = EmailMessage()
    message['Subject'] = letter.subject
    message['From'] = sender
    message['To'] = recipient
    message['Date'] = formatdate(localtime=False, usegmt=True)
    # Stable per video and event: a mail client or MTA that sees the same message twice shows it once.
    message['Message-ID'] = f'<{message_id_seed}@papanoel>'
    message['Content-Language'] = language
    message['Auto-Submitted'] = 'auto-generated'
    text_parts = []
    for paragraph in letter.paragraphs:
        text_parts.append(paragraph)
        if letter.link and paragraph.endswith(':') and paragraph not in ('Hola:',):
            text_parts.append(letter.link)
    message.set_content('\n\n'.join(text_parts) + '\n')
    poster_cid = make_msgid(domain='papanoel')[1:-1] if poster else ''
    body = []
    if poster:
        body.append(f'<p><img src="cid:{poster_cid}" alt="" width="270"></p>')
    for paragraph in letter.paragraphs:
        body.append(f'<p>{html.escape(paragraph)}</p>')
        if letter.link and paragraph.endswith(':') and paragraph not in ('Hola:',):
            body.append(f'<p><a href="{html.escape(letter.link, quote=True)}">{html.escape(letter.link_label)}</a></p>')
    message.add_alternative(
        f'<!doctype html><html lang="{language}"><body>{"".join(body)}</body></html>', subtype='html'
    )
    if poster:
        html_part = message.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(poster.read_bytes(), 'image', 'jpeg', cid=f'<{poster_cid}>')
    return message
