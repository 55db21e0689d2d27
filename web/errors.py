"""One error shape for every refusal, in both languages, and nothing internal in any of them.

`{"errors": [{"field", "code", "message": {"es", "en"}, "localized"}], "language"}`: field
errors name their field, others have `field: null`. FastAPI's and Starlette's own errors
(validation, 404, 405) are rewritten into the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orders.model import FieldError
from web import i18n

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by an endpoint to answer with an error body."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        field_errors: Sequence[FieldError] = (),
        language: i18n.Language = i18n.DEFAULT_LANGUAGE,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.field_errors = list(field_errors)
        self.language = language
        self.headers = headers or {}
        self.retry_after = retry_after


def error_body(
    code: str,
    language: i18n.Language,
    *,
    field_errors: Sequence[FieldError] = (),
    retry_after: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    if field_errors:
        items = [_item(e.field, e.code, i18n.field_message(e), language) for e in field_errors]
    else:
        items = [_item(None, code, i18n.message(code), language)]
    body: dict[str, Any] = {'errors': items, 'language': language}
    if retry_after is not None:
        body['retry_after'] = retry_after
    if request_id is not None:
        body['request_id'] = request_id
    return body


def _item(field: str | None, code: str, message: i18n.Text, language: i18n.Language) -> dict[str, Any]:
    return {'field': field, 'code': code, 'message': message, 'localized': message[language]}


def request_language(request: Request) -> i18n.Language:
    return i18n.choose_language(request.query_params.get('lang'), request.headers.get('accept-language'))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    body = error_body(exc.code, exc.language, field_errors=exc.field_errors, retry_after=exc.retry_after)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Path, query and header parameters that FastAPI itself refused (the order body is validated by the model).
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get('loc', ())]
        field = loc[-1] if loc else 'request'
        errors.append(FieldError(field=field, code=str(err.get('type', 'value_error')), message=str(err.get('msg'))))
    body = error_body('invalid_request', request_language(request), field_errors=errors)
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: 'route_not_found', 405: 'method_not_allowed'}.get(exc.status_code, 'invalid_request')
    return JSONResponse(
        error_body(code, request_language(request)), status_code=exc.status_code, headers=exc.headers or None
    )
