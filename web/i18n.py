"""Messages the web side shows to parents, in Spanish and English.

Every error the API returns carries both languages (`{"es": ..., "en": ...}`) plus the one
chosen for this request, so a client can show either without another round trip. The
order model reports field errors in English with pydantic's codes; they are translated
here by field and code, and anything unforeseen falls back to a generic sentence rather
than to the model's internal wording.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from orders.model import MESSAGE_MAX, NAME_MAX, FieldError

Language = Literal['es', 'en']
LANGUAGES: tuple[Language, ...] = ('es', 'en')
DEFAULT_LANGUAGE: Language = 'es'

Text = dict[str, str]

_AGE_RANGE = ('La edad debe estar entre 1 y 17 años.', 'Age must be between 1 and 17.')
_AGE_WHOLE = ('La edad debe ser un número entero de años.', 'Age must be a whole number of years.')
_CONTROL = ('Contiene un carácter no permitido.', 'Contains a character that is not allowed.')
_MARKUP = ('Escribe solo texto, sin < > [ ] ni códigos.', 'Plain text only, without < > [ ] or codes.')

# (field, kind) -> (es, en). `kind` is the pydantic code, or for the model's own checks
# (code 'value_error') a short name taken from its message; see `_kind`.
_FIELD_MESSAGES: dict[tuple[str, str], tuple[str, str]] = {
    ('child_name', 'missing'): ('Escribe el nombre del niño o la niña.', "Please enter the child's name."),
    ('child_name', 'required'): ('Escribe el nombre del niño o la niña.', "Please enter the child's name."),
    ('child_name', 'string_too_short'): ('Escribe el nombre del niño o la niña.', "Please enter the child's name."),
    ('child_name', 'string_too_long'): (
        f'El nombre puede tener como máximo {NAME_MAX} caracteres.',
        f'The name can be at most {NAME_MAX} characters long.',
    ),
    ('child_name', 'start_letter'): ('El nombre debe empezar por una letra.', 'The name must start with a letter.'),
    ('child_name', 'letters_only'): (
        'El nombre solo puede tener letras, espacios, guiones y apóstrofos.',
        'The name may contain only letters, spaces, hyphens and apostrophes.',
    ),
    ('child_name', 'control'): _CONTROL,
    ('child_name', 'markup'): _MARKUP,
    ('child_name', 'moderation'): (
        'Este nombre no se puede usar. Escribe el nombre real del niño o la niña.',
        "This name can't be used. Please write the child's real name.",
    ),
    ('age', 'missing'): ('Indica la edad.', "Please enter the child's age."),
    ('age', 'greater_than_equal'): _AGE_RANGE,
    ('age', 'less_than_equal'): _AGE_RANGE,
    ('age', 'int_parsing'): _AGE_WHOLE,
    ('age', 'int_type'): _AGE_WHOLE,
    ('age', 'int_from_float'): _AGE_WHOLE,
    ('age', 'whole_number'): _AGE_WHOLE,
    ('message', 'string_too_long'): (
        f'El mensaje puede tener como máximo {MESSAGE_MAX} caracteres.',
        f'The message can be at most {MESSAGE_MAX} characters long.',
    ),
    ('message', 'control'): _CONTROL,
    ('message', 'markup'): _MARKUP,
    ('message', 'moderation'): (
        'El mensaje contiene palabras que Papá Noel no puede decir. Cámbialo, por favor.',
        'The message contains words Santa cannot say. Please change it.',
    ),
    ('parent_email', 'missing'): ('Indica tu correo electrónico.', 'Please enter your email address.'),
    ('parent_email', 'invalid_email'): (
        'El correo electrónico no es válido.',
        'Please enter a valid email address.',
    ),
    ('callback_url', 'callback_url'): (
        'La URL de aviso debe ser https y pública (no una dirección privada ni local).',
        'The callback URL must be https and public (not a private or local address).',
    ),
    ('language', 'literal_error'): ('El idioma debe ser «es» o «en».', 'The language must be "es" or "en".'),
    ('consent', 'missing'): (
        'Necesitamos tu consentimiento para crear el vídeo.',
        'We need your consent to make the video.',
    ),
    ('consent', 'consent'): (
        'Necesitamos tu consentimiento para crear el vídeo.',
        'We need your consent to make the video.',
    ),
    ('consent', 'bool_parsing'): (
        'Necesitamos tu consentimiento para crear el vídeo.',
        'We need your consent to make the video.',
    ),
}

_CODE_MESSAGES: dict[str, tuple[str, str]] = {
    'extra_forbidden': ('Campo desconocido.', 'Unknown field.'),
    'string_type': ('Debe ser un texto.', 'Must be text.'),
    'bool_type': ('Debe ser sí o no.', 'Must be yes or no.'),
    'missing': ('Este campo es obligatorio.', 'This field is required.'),
}

# The text checks of orders/text.py (issue #10): each has a code of its own.
_SURROGATE = ('Contiene texto que no es Unicode válido.', 'Contains text that is not valid Unicode.')
_MIXED = (
    'Mezcla letras de alfabetos distintos (parecen latinas pero no lo son). Escríbelo de nuevo con un teclado latino.',
    'Mixes letters of different alphabets (they look Latin but are not). Please type it again on a Latin keyboard.',
)
_TEXT_CODE_MESSAGES: dict[str, tuple[str, str]] = {
    'surrogate': _SURROGATE,
    'control': _CONTROL,
    'markup': ('Escribe solo texto, sin < > [ ] ni códigos.', 'Plain text only, without < > [ ] or codes.'),
    'mixed_script': _MIXED,
    'script': (
        'Papá Noel solo sabe leer letras latinas (con sus acentos). Escribe el nombre tal como suena, '
        'por ejemplo «Yuki», «Mei» u «Omar».',
        'Santa can only read Latin letters (with their accents). Write the name as it sounds, '
        'for example "Yuki", "Mei" or "Omar".',
    ),
    'symbols': (
        'Contiene símbolos o emojis que Papá Noel no puede leer en voz alta. Escríbelo con palabras.',
        'Contains symbols or emoji Santa cannot read aloud. Please use words.',
    ),
    'invalid_email': (
        'Escribe solo la dirección de correo, por ejemplo nombre@ejemplo.com (sin nombre, < > ni listas).',
        'Enter just the e-mail address, like name@example.com (no name, < > or lists).',
    ),
    'link': (
        'El mensaje no puede llevar enlaces, direcciones web o de correo ni números de teléfono.',
        'The message cannot contain links, web or e-mail addresses, or phone numbers.',
    ),
}
_CODE_MESSAGES.update(_TEXT_CODE_MESSAGES)

_GENERIC = ('Este valor no es válido.', 'This value is not valid.')

# The model's own checks all share pydantic's code 'value_error'; their English messages
# (orders/model.py) tell them apart.
_VALUE_ERROR_KINDS = (
    ('must start with a letter', 'start_letter'),
    ('may contain only letters', 'letters_only'),
    ('contains a control character', 'control'),
    ('must be plain text', 'markup'),
    ('is required', 'required'),
    ('whole number', 'whole_number'),
    ('must be given', 'consent'),
)

#: Errors that are not about one field: (es, en).
MESSAGES: dict[str, tuple[str, str]] = {
    'rate_limited': (
        'Has hecho demasiados pedidos seguidos. Inténtalo de nuevo en unos minutos.',
        'Too many orders in a row. Please try again in a few minutes.',
    ),
    'invalid_json': ('El cuerpo de la petición no es JSON válido.', 'The request body is not valid JSON.'),
    'json_too_deep': (
        'El cuerpo de la petición está anidado demasiado hondo.',
        'The request body is nested too deeply.',
    ),
    'invalid_body': (
        'El cuerpo de la petición debe ser un objeto con los campos del pedido.',
        'The request body must be an object with the order fields.',
    ),
    'unsupported_media_type': (
        'Envía el pedido como JSON o como formulario.',
        'Send the order as JSON or as a form.',
    ),
    'body_too_large': ('La petición es demasiado grande.', 'The request is too large.'),
    'idempotency_key_reused': (
        'Esta clave de idempotencia ya se usó con otro pedido.',
        'This Idempotency-Key was already used with a different order.',
    ),
    'idempotency_in_progress': (
        'Este pedido se está procesando todavía. Espera un momento.',
        'This order is still being processed. Please wait a moment.',
    ),
    'not_found': ('No encontramos ese vídeo.', "We couldn't find that video."),
    'route_not_found': ('No existe esta dirección.', 'There is nothing at this address.'),
    'method_not_allowed': ('Método no permitido.', 'Method not allowed.'),
    'video_gone': ('Este vídeo ya no está disponible.', 'This video is no longer available.'),
    'download_forbidden': (
        'El enlace de descarga no es válido o ha caducado. Vuelve a la página del pedido.',
        'The download link is invalid or has expired. Go back to the order page.',
    ),
    'production_failed': (
        'No hemos podido crear el vídeo. Nuestro equipo revisará el pedido: si consigue crearlo, te enviaremos '
        'un correo con el enlace.',
        "We couldn't make the video. Our team will look at the order: if they can make it, we'll e-mail you the link.",
    ),
    'auth_required': ('Hace falta el token de administración.', 'The admin token is required.'),
    'auth_invalid': ('El token de administración no es correcto.', 'The admin token is not correct.'),
    'admin_disabled': (
        'La administración está desactivada: configura ADMIN_TOKEN.',
        'Admin is disabled: set ADMIN_TOKEN.',
    ),
    'dead_letter_not_found': (
        'Ese trabajo no está en la cola de fallidos.',
        'That job is not in the dead-letter queue.',
    ),
    'action_unavailable': (
        'Esa acción no está disponible en este servidor.',
        'That action is not available on this server.',
    ),
    'cross_site_form': (
        'Este formulario solo se puede enviar desde nuestra página.',
        'This form can only be sent from our own page.',
    ),
    'review_not_found': ('Ese pedido no está esperando revisión.', 'That order is not waiting for review.'),
    'cannot_cancel': (
        'Ese pedido ya terminó o se está haciendo ahora mismo: no se puede cancelar.',
        'That order has finished or is being made right now: it cannot be canceled.',
    ),
    'invalid_request': ('La petición no es válida.', 'The request is not valid.'),
    'internal_error': (
        'Algo ha fallado por nuestra parte. Inténtalo de nuevo más tarde.',
        'Something went wrong on our side. Please try again later.',
    ),
}


def rejected_message(reason: str) -> Text:
    """What the parent reads when a reviewer rejected the message: a fixed sentence and the reviewer's words."""
    es = 'No podemos hacer este vídeo con ese mensaje.'
    en = "We can't make this video with that message."
    if reason:
        es, en = f'{es} {reason}', f'{en} {reason}'
    return text(es + ' Puedes hacer un pedido nuevo.', en + ' You can place a new order.')


# --- Personalization (#14) ---
# The respelling is refused like the name, in the same words.
_FIELD_MESSAGES.update(
    {
        ('name_pronunciation', kind): pair
        for (field, kind), pair in list(_FIELD_MESSAGES.items())
        if field == 'child_name'
    }
)
_FIELD_MESSAGES[('gender', 'literal_error')] = (
    'Elige «niña», «niño» o «neutro».',
    'Choose "girl", "boy" or "neutral".',
)
MESSAGES['preview_rate_limited'] = (
    'Has escuchado muchas veces seguidas. Inténtalo de nuevo en unos minutos.',
    'You have listened many times in a row. Please try again in a few minutes.',
)
MESSAGES['preview_unavailable'] = (
    'Ahora no podemos reproducir el saludo. Inténtalo de nuevo en un momento.',
    "We can't play the greeting right now. Please try again in a moment.",
)


def text(es: str, en: str) -> Text:
    return {'es': es, 'en': en}


def message(code: str) -> Text:
    es, en = MESSAGES.get(code, MESSAGES['invalid_request'])
    return text(es, en)


def field_message(error: FieldError) -> Text:
    """Both languages for one of the order model's field errors (or a moderation refusal)."""
    kind = _kind(error)
    pair = _FIELD_MESSAGES.get((error.field, kind)) or _CODE_MESSAGES.get(kind) or _GENERIC
    es, en = pair
    if kind in ('letters_only', 'script', 'mixed_script', 'symbols') and 'U+' in error.message:
        # The model names the characters it refused; show them in both languages.
        found = ' '.join(re.findall(r'U\+[0-9A-F]{4,6}', error.message))
        es, en = f'{es} No se admite: {found}', f'{en} Not allowed: {found}'
    return text(es, en)


def _kind(error: FieldError) -> str:
    if error.code != 'value_error':
        return error.code
    if error.field == 'parent_email':
        return 'invalid_email'
    lowered = error.message.lower()
    for needle, kind in _VALUE_ERROR_KINDS:
        if needle in lowered:
            return kind
    return 'value_error'


_ACCEPT_ITEM = re.compile(r'^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$')


def choose_language(order_language: Any, accept_language: str | None) -> Language:
    """The order's own `language` when it is one we speak, else the best of Accept-Language, else Spanish."""
    if order_language in LANGUAGES:
        return order_language  # type: ignore[no-any-return]
    best: tuple[float, Language] | None = None
    for item in (accept_language or '').split(',')[:20]:
        match = _ACCEPT_ITEM.match(item)
        if not match:
            continue
        primary = match.group(1).lower()
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if primary in LANGUAGES and quality > 0 and (best is None or quality > best[0]):
            best = (quality, primary)
    return best[1] if best else DEFAULT_LANGUAGE
