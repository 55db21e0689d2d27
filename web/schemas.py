"""The API's request and response shapes, as pydantic models: they document the OpenAPI schema
(which the schemathesis tests hold the app to) and shape what the endpoints return."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orders.model import DEFAULT_FORMAT, MESSAGE_MAX, NAME_MAX, Gender, VideoFormat

VIDEO_ID_PATTERN = r'^[A-Za-z0-9_-]{1,64}$'


class OrderRequest(BaseModel):
    """What a parent sends: JSON, or the same fields form-encoded (consent as a checkbox)."""

    model_config = ConfigDict(extra='forbid')

    child_name: str = Field(min_length=1, max_length=NAME_MAX, examples=['Lucía'])
    age: int = Field(ge=1, le=17, examples=[6])
    message: str = Field(default='', max_length=MESSAGE_MAX, examples=['¡Sigue leyendo tanto!'])
    parent_email: str = Field(max_length=254, examples=['mama@example.com'])
    language: Literal['es', 'en'] = 'es'
    consent: bool = Field(description='The parent agrees to the video being made; must be true.')
    callback_url: str | None = Field(
        default=None,
        max_length=512,  # with every other field at its longest, a body stays under MAX_REQUEST_BYTES
        description='https URL that gets signed webhooks (Standard Webhooks): video.completed, video.failed, '
        'video.deleted. Needs WEBHOOK_SECRET on the server.',
    )
    # --- Personalization (#14) ---
    name_pronunciation: str | None = Field(
        default=None, max_length=NAME_MAX, examples=['Chabi'],
        description='How the name sounds, in plain letters: Santa says this; everything written shows child_name.',
    )  # fmt: skip
    gender: Gender = Field(default='neutral', description='Grammatical gender of the wording.')
    formats: list[VideoFormat] = Field(default=[DEFAULT_FORMAT], min_length=1, description='One video per format.')


class PreviewRequest(BaseModel):
    """The name preview: Santa's greeting, to hear the name before ordering."""

    model_config = ConfigDict(extra='forbid')

    child_name: str = Field(min_length=1, max_length=NAME_MAX, examples=['Sofía'])
    name_pronunciation: str | None = Field(default=None, max_length=NAME_MAX)
    language: Literal['es', 'en'] = 'es'
    gender: Gender = 'neutral'


class Localized(BaseModel):
    es: str
    en: str


class ErrorItem(BaseModel):
    field: str | None = Field(description='The request field at fault, or null for the request as a whole.')
    code: str
    message: Localized
    localized: str = Field(description='`message` in the language chosen for this request.')


class ErrorBody(BaseModel):
    errors: list[ErrorItem]
    language: Literal['es', 'en']
    retry_after: int | None = None
    request_id: str | None = None


class Accepted(BaseModel):
    id: str
    status_url: str
    state: Literal['queued', 'processing', 'completed', 'failed', 'review']
    page_url: str | None = Field(default=None, description="The order page, the parent's lasting link: /v/<token>.")


class SafeError(BaseModel):
    code: str
    message: Localized


class VideoStatus(BaseModel):
    id: str
    state: Literal['queued', 'processing', 'completed', 'failed', 'review']
    stage: str = Field(
        description="The stage running now: script, audio, lipsync or video, compose, store; '' if none."
    )
    progress: int = Field(ge=0, le=100)
    strategy: str
    retrying: bool = Field(description='A failed attempt will be tried again.')
    created_at: float
    updated_at: float
    error: SafeError | None = None
    download_url: str | None = Field(default=None, description='When completed: a signed link that expires.')
    download_expires_at: int | None = None
    # --- Personalization (#14): one download per format, the subtitles and the poster ---
    downloads: dict[str, str] | None = Field(default=None, description='When completed: a signed link per format.')
    subtitles_url: str | None = Field(default=None, description='When completed: the WebVTT subtitles.')
    poster_url: str | None = Field(default=None, description='When completed: a JPEG still of Papá Noel.')


class HealthCheck(BaseModel):
    name: str
    ok: bool
    detail: str | None = Field(default=None, description='Only for an authenticated admin.')
    data: dict[str, Any] | None = None


class HealthBody(BaseModel):
    status: Literal['ok', 'unhealthy']
    live: bool
    ready: bool
    checks: list[HealthCheck]


ERROR_RESPONSE: dict[str, Any] = {'model': ErrorBody}
