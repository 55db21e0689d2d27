"""Download links that cannot be guessed and expire: an HMAC over the video id and the expiry.

The secret is DOWNLOAD_TOKEN_SECRET, or, when that is unset, a random one the first web
process stores in Redis with SET NX so every process (and every restart) agrees on it
without anyone having to configure or commit one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import secrets
import time

from redis import Redis

log = logging.getLogger(__name__)

SECRET_KEY = 'papanoel:web:secret'
#: Expiries are rounded up to this step, so a page polling the status sees one stable URL
#: (the browser's player keeps its buffer) instead of a new one every poll.
EXPIRY_STEP_SECONDS = 600


def shared_secret(conn: Redis, configured: str) -> bytes:
    """The configured secret, else the one every web process shares through Redis."""
    if configured:
        return configured.encode()
    conn.set(SECRET_KEY, secrets.token_hex(32), nx=True)
    value = conn.get(SECRET_KEY)
    if not value:
        raise RuntimeError('the shared web secret vanished from Redis')
    return value if isinstance(value, bytes) else str(value).encode()


def derive(secret: bytes, purpose: str) -> bytes:
    """A key per purpose, so a download token can never be replayed as anything else."""
    return hmac.new(secret, f'papanoel:{purpose}'.encode(), hashlib.sha256).digest()


class DownloadTokens:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._key = derive(secret, 'download')
        self.ttl_seconds = ttl_seconds

    def issue(self, video_id: str, now: float | None = None) -> tuple[str, int]:
        """(token, expires): valid for at least `ttl_seconds` from now."""
        moment = time.time() if now is None else now
        expires = math.ceil((moment + self.ttl_seconds) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS
        return self._sign(video_id, expires), expires

    def valid(self, video_id: str, token: str, expires: int, now: float | None = None) -> bool:
        moment = time.time() if now is None else now
        if expires <= moment:
            return False
        return hmac.compare_digest(self._sign(video_id, expires), token)

    def _sign(self, video_id: str, expires: int) -> str:
        mac = hmac.new(self._key, f'{video_id}\n{expires}'.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b'=').decode()
