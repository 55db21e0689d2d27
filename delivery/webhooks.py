"""Signed webhooks for callers of the JSON API: video.completed, video.failed, video.deleted.

Signed per the Standard Webhooks spec with its reference library (`standardwebhooks`): headers
webhook-id (stable per video and event: a retry carries the same id, so receivers dedupe),
webhook-timestamp and webhook-signature (HMAC-SHA256 with WEBHOOK_SECRET). Delivered at least
once: a non-2xx answer or no answer within WEBHOOK_TIMEOUT_SECONDS is retried with backoff for
about 24 h (WEBHOOK_RETRY_DELAYS_SECONDS).

A callback URL must be https and resolve only to public addresses (no private, loopback or
link-local target, which would let a caller reach our own network); it is checked when the order
is placed and again before every attempt, since DNS answers change.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from standardwebhooks.webhooks import Webhook

EVENTS = ('video.completed', 'video.failed', 'video.deleted')


class CallbackRefused(ValueError):
    """A callback URL we will not call; the message says why, without echoing the URL."""


def check_callback_url(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != 'https' or not parts.hostname:
        raise CallbackRefused('must be an https:// URL')
    if parts.username or parts.password:
        raise CallbackRefused('must not carry credentials')
    if len(url) > 512:
        raise CallbackRefused('is too long')
    try:
        answers = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise CallbackRefused('does not resolve') from None
    for answer in answers:
        address = ipaddress.ip_address(str(answer[4][0]).split('%', 1)[0])
        if not allow_private and not address.is_global:
            raise CallbackRefused('resolves to a private, loopback or link-local address')


def event_id(video_id: str, event: str) -> str:
    """Stable across retries and duplicate jobs: a receiver sees one id per video and event."""
    return 'evt_' + hashlib.sha256(f'{video_id}:{event}'.encode()).hexdigest()[:32]


def signed_request(secret: str, message_id: str, payload: dict[str, object]) -> tuple[str, dict[str, str]]:
    body = json.dumps(payload, separators=(',', ':'), sort_keys=True)
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, now, body)
    headers = {
        'content-type': 'application/json',
        'webhook-id': message_id,
        'webhook-timestamp': str(int(now.timestamp())),
        'webhook-signature': signature,
        'user-agent': 'papa-noel-webhooks/1',
    }
    return body, headers


class WebhookFailed(Exception):
    pass


def post(url: str, body: str, headers: dict[str, str], timeout: float) -> int:
    """One attempt; the status code, or WebhookFailed for no answer. Redirects are not followed."""
    try:
        response = requests.post(url, data=body.encode(), headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise WebhookFailed(f'no answer: {type(exc).__name__}') from None
    return response.status_code
