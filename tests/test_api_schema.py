"""Property-based tests of the API against its own OpenAPI schema (schemathesis, in process over
ASGI, on the real test Redis): no 5xx, and every answer, good or bad, has a documented status,
content type, headers and body shape. Bounded so it runs in well under a minute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from redis import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from settings import Settings
from tests.web_support import web_settings
from web.app import create_app

# Checks that hold whatever the data: valid-looking orders may still be refused (moderation, the
# model's stricter name rules), so schemathesis' "positive data must be accepted" does not apply.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# The schema is read at import, from an app whose Redis is never contacted (the document does not
# depend on it); every generated request goes to the `app` fixture, on the test Redis.
# (schemathesis.pytest.from_fixture would be the direct way, but it does not run on pytest 9.)
schema = schemathesis.openapi.from_asgi(
    '/openapi.json',
    create_app(Settings(_env_file=None, redis_url='redis://127.0.0.1:9/0')),  # type: ignore[call-arg]
)


@pytest.fixture
def app(worker_env: dict[str, str], redis_conn: Redis) -> Iterator[FastAPI]:
    # The rate limit is off here: it would turn most of the generated orders into 429s.
    app = create_app(web_settings(worker_env, rate_limit_orders=0, health_min_workers=0))
    yield app
    app.state.web.conn.close()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case: schemathesis.Case[Any], app: FastAPI) -> None:
    case.call_and_validate(checks=CHECKS, app=app)


def test_the_schema_documents_the_api(app: FastAPI) -> None:
    paths = app.openapi()['paths']
    assert {'/api/videos', '/api/videos/{video_id}', '/api/videos/{video_id}/download', '/health', '/metrics',
            '/api/admin/overview', '/api/admin/dlq/{video_id}/retry'} <= set(paths)  # fmt: skip
    post = paths['/api/videos']['post']
    assert set(post['requestBody']['content']) == {'application/json', 'application/x-www-form-urlencoded'}
    assert {'202', '409', '413', '415', '422', '429'} <= set(post['responses'])
