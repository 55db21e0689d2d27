"""Moderation of the name's respelling: said aloud like the name, so checked like the name.

It goes through `web.moderation.moderate` itself, as if it were the name, so whatever that
check learns (word lists, obfuscations, allowed names) applies to the respelling too.
"""

from __future__ import annotations

from orders.model import FieldError, Order
from web.moderation import moderate


def moderate_respelling(order: Order) -> list[FieldError]:
    if not order.name_pronunciation:
        return []
    as_name = order.model_copy(update={'child_name': order.name_pronunciation, 'message': ''})
    return [
        FieldError(field='name_pronunciation', code=error.code, message=error.message)
        for error in moderate(as_name)
        if error.field == 'child_name'
    ]
