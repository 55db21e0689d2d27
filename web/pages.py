"""The two HTML pages: the parents' landing page (/) and the ops dashboard (/admin).

Server-rendered shells with no inline script or style (the CSP forbids both); behaviour is
in /static/app.js and /static/admin.js, which talk to the JSON API. Templates are plain
files with `$name` placeholders (string.Template): the few values filled in are ours, not
the user's, and are HTML-escaped anyway, so no template engine is needed.
"""

from __future__ import annotations

import hashlib
import html
import logging
from functools import cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web import i18n
from web.context import get_context

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / 'templates'
STATIC = HERE / 'static'

router = APIRouter(include_in_schema=False)

# Pages change with each deploy; the assets they name carry a content hash instead.
_PAGE_HEADERS = {'Cache-Control': 'no-cache'}


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding='utf-8'))


@cache
def asset_version() -> str:
    """A hash of every static file: a new deploy gets new asset URLs, so no stale JS or CSS."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob('*')):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def render(name: str, **values: str) -> str:
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    return _template(name).substitute(version=asset_version(), **escaped)


@router.get('/', response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    # The page's language with no choice stored yet (the script keeps a choice once made).
    language = i18n.choose_language(None, request.headers.get('accept-language'))
    days = str(get_context(request).settings.retention_days)
    return HTMLResponse(render('index.html', lang=language, retention_days=days), headers=_PAGE_HEADERS)


@router.get('/admin', response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    ctx = get_context(request)
    if not ctx.admin_token:
        return HTMLResponse(render('admin_disabled.html'), status_code=503, headers=_PAGE_HEADERS)
    return HTMLResponse(render('admin.html'), headers=_PAGE_HEADERS)
