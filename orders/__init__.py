"""Orders: what a parent asks for, validated, and the script Papá Noel will say."""

from orders.model import Order, OrderError, parse_order
from orders.script import render_script

__all__ = ['Order', 'OrderError', 'parse_order', 'render_script']
