"""GET /health: the checks of health_check.py (monitoring.run_checks) as JSON, 200 or 503.

The public answer names each check and whether it passed; the details (versions, file names,
thresholds) are for an admin's bearer token only. A report is reused for a couple of seconds
so a load balancer polling hard cannot make every request spawn FFmpeg.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from monitoring import Check, HealthReport, run_checks
from providers.base import ProviderSet
from web.admin import admin_authorized
from web.context import WebContext, get_context
from web.schemas import HealthBody

log = logging.getLogger(__name__)

router = APIRouter(tags=['ops'])

CACHE_SECONDS = 2.0
_cache_lock = threading.Lock()


@router.get('/health', response_model=HealthBody, summary='Liveness and readiness',
            responses={503: {'model': HealthBody, 'description': 'Not ready'}})  # fmt: skip
def health(request: Request) -> JSONResponse:
    ctx = get_context(request)
    report = cached_report(ctx)
    detailed = admin_authorized(request, ctx)
    checks: list[dict[str, Any]] = []
    for check in report.checks:
        entry: dict[str, Any] = {'name': check.name, 'ok': check.ok}
        if detailed:
            entry.update(detail=check.detail, data=check.data)
        checks.append(entry)
    ready = report.status != 'unhealthy'  # a degraded service (an open provider circuit) still takes orders
    body = {'status': 'ok' if ready else 'unhealthy', 'live': True, 'ready': ready, 'checks': checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers={'Cache-Control': 'no-store'})


@router.get('/health/live', summary='Liveness only: the process answers')
def live() -> dict[str, str]:
    return {'status': 'ok'}


def cached_report(ctx: WebContext) -> HealthReport:
    cached = ctx.health_cache
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    with _cache_lock:  # one run at a time; the others wait and share it
        cached = ctx.health_cache
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        report = _run(ctx)
        ctx.health_cache = (time.monotonic(), report)
        return report


def _run(ctx: WebContext) -> HealthReport:
    try:
        providers = ctx.providers()
        broken: Check | None = None
    except Exception as exc:  # a provider misconfiguration is a failed check, not a failed endpoint
        providers, broken = ProviderSet(), Check('providers', False, f'cannot configure providers: {exc}')
    report = run_checks(ctx.settings, ctx.conn, ctx.storage, providers)
    if broken is None:
        return report
    return HealthReport([broken if c.name == 'providers' else c for c in report.checks])
