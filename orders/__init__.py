"""Orders: what a parent asks for, validated, and the script Papá Noel will say."""

from orders.model import Order, OrderError, parse_order
from orders.script import Script, build_script, greeting, render_script, written_script

__all__ = [
    'Order',
    'OrderError',
    'Script',
    'build_script',
    'greeting',
    'parse_order',
    'render_script',
    'written_script',
]
