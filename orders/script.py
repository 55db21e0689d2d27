"""The personalized text Papá Noel says, rendered from the persona's templates."""

from __future__ import annotations

import papa_noel_config as persona
from orders.model import Order


def render_script(order: Order) -> str:
    template = next(t for t in persona.SCRIPT_TEMPLATES[order.language] if t.min_age <= order.age <= t.max_age)
    message_sentence = ''
    if order.message:
        message = order.message if order.message[-1] in '.!?…' else order.message + '.'
        message_sentence = persona.MESSAGE_BRIDGE[order.language].format(message=message)
    # Values are substituted once; braces inside a name or message are never re-read as fields.
    return template.text.format(name=order.child_name, age=order.age, message_sentence=message_sentence)
