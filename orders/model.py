"""The order a parent places: validated and normalized before anything is enqueued.

Text fields are NFC-normalized and whitespace-collapsed; control characters and markup
are refused, not silently stripped, so the parent sees exactly what Santa will say.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from orders.text import speakable

NAME_MAX = 40
MESSAGE_MAX = 300
ORDER_ID_PATTERN = r'^[A-Za-z0-9_-]{1,64}$'

# An addr-spec has no spaces, angle brackets, commas, semicolons, quotes or comments: anything
# with one of them is a display name, a list or a header injection, never silently rewritten.
_NOT_ADDR_SPEC = re.compile(r'[\s<>,;:"()\[\]\\]')


def new_order_id() -> str:
    return uuid.uuid4().hex


class Order(BaseModel):
    """One paid order for one personalized video."""

    model_config = ConfigDict(frozen=True, extra='forbid', str_strip_whitespace=True)

    order_id: str = Field(default_factory=new_order_id, pattern=ORDER_ID_PATTERN)
    child_name: str = Field(min_length=1, max_length=NAME_MAX)
    age: int = Field(ge=1, le=17)
    message: str = Field(default='', max_length=MESSAGE_MAX)
    parent_email: str
    language: Literal['es', 'en'] = 'es'
    consent: bool

    @field_validator('child_name', mode='before')
    @classmethod
    def _valid_name(cls, value: Any) -> Any:
        return speakable(value, 'name') if isinstance(value, str) else value

    @field_validator('message', mode='before')
    @classmethod
    def _valid_message(cls, value: Any) -> Any:
        if value is None:
            return ''
        return speakable(value, 'message') if isinstance(value, str) else value

    @field_validator('parent_email', mode='before')
    @classmethod
    def _bare_address(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if _NOT_ADDR_SPEC.search(value) or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise PydanticCustomError('invalid_email', 'must be a bare e-mail address, like name@example.com')
        try:
            # Syntax only: whether the domain receives mail is the mail provider's business.
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise PydanticCustomError('invalid_email', 'is not a valid e-mail address') from None

    @field_validator('age', mode='before')
    @classmethod
    def _whole_age(cls, value: Any) -> Any:
        # Forms send strings; accept "6" but never 6.5 or True.
        if isinstance(value, bool):
            raise ValueError('must be a whole number of years')
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value

    @field_validator('consent', mode='after')
    @classmethod
    def _consented(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError('must be given to produce the video')
        return value

    @property
    def video_id(self) -> str:
        """One order makes one video: the order id is the video id."""
        return self.order_id


class FieldError(BaseModel):
    field: str
    message: str
    code: str


class OrderError(ValueError):
    """An order was refused. `errors` names each bad field; nothing was enqueued."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__('; '.join(f'{e.field}: {e.message}' for e in errors))


def parse_order(data: dict[str, Any]) -> Order:
    """Validate raw input (a form, a CLI, a JSON body) into an Order, or raise OrderError."""
    try:
        return Order.model_validate(data)
    except ValidationError as exc:
        raise OrderError([_field_error(err) for err in exc.errors()]) from None


def _field_error(err: Any) -> FieldError:
    field = '.'.join(str(part) for part in err['loc']) or 'order'
    message = str(err['msg']).removeprefix('Value error, ')
    if err['type'] == 'extra_forbidden':
        message = 'unknown field'
    return FieldError(field=field, message=message, code=err['type'])
