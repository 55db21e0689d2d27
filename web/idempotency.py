"""Idempotency-Key for POST /api/videos (after the IETF httpapi draft).

The same key with the same body gets the same answer and one job; the same key with another
body is refused (422), and a second request while the first is still being handled gets 409.
The video id itself is derived from the key and the body (keyed with the server secret), so
even a retry that arrives after the key was forgotten, or after a crash between enqueueing
and remembering, lands on the same order id, which enqueueing already makes idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis import Redis

log = logging.getLogger(__name__)

KEY_PREFIX = 'papanoel:web:idempotency:'
#: An unfinished request's claim on a key lapses after this, so a crashed request frees it.
IN_PROGRESS_TTL_SECONDS = 60
MAX_KEY_LENGTH = 255


class Outcome(StrEnum):
    NEW = 'new'  # go ahead; call finish() or abandon()
    REPLAY = 'replay'  # answered before: same body, here is the video id
    MISMATCH = 'mismatch'  # answered before for another body
    IN_PROGRESS = 'in_progress'  # another request with this key is being handled now


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    video_id: str = ''


def fingerprint(fields: dict[str, Any]) -> str:
    """A digest of the order as sent: key order and JSON spacing do not matter, values do."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(',', ':'), default=str)
    # surrogatepass: a lone surrogate is refused later with a 422 naming its field, not here with a 500.
    return hashlib.sha256(canonical.encode('utf-8', 'surrogatepass')).hexdigest()


def order_id_for(secret: bytes, key: str, body_fingerprint: str) -> str:
    return hmac.new(secret, f'{key}\n{body_fingerprint}'.encode(), hashlib.sha256).hexdigest()[:32]


class IdempotencyStore:
    def __init__(self, conn: Redis, ttl_seconds: int) -> None:
        self.conn = conn
        self.ttl_seconds = ttl_seconds

    def claim(self, key: str, body_fingerprint: str) -> Claim:
        redis_key = self._key(key)
        entry = json.dumps({'fingerprint': body_fingerprint, 'state': 'in_progress'})
        if self.conn.set(redis_key, entry, nx=True, ex=IN_PROGRESS_TTL_SECONDS):
            return Claim(Outcome.NEW)
        raw = self.conn.get(redis_key)
        if raw is None:  # it lapsed between the two calls: try once more
            if self.conn.set(redis_key, entry, nx=True, ex=IN_PROGRESS_TTL_SECONDS):
                return Claim(Outcome.NEW)
            raw = self.conn.get(redis_key) or b'{}'
        stored = json.loads(raw)
        if stored.get('fingerprint') != body_fingerprint:
            return Claim(Outcome.MISMATCH)
        if stored.get('state') == 'done':
            return Claim(Outcome.REPLAY, str(stored['video_id']))
        return Claim(Outcome.IN_PROGRESS)

    def finish(self, key: str, body_fingerprint: str, video_id: str) -> None:
        entry = {'fingerprint': body_fingerprint, 'state': 'done', 'video_id': video_id}
        self.conn.set(self._key(key), json.dumps(entry), ex=self.ttl_seconds)

    def abandon(self, key: str) -> None:
        """The request was refused (invalid order): the key is free for a corrected one."""
        self.conn.delete(self._key(key))

    @staticmethod
    def _key(key: str) -> str:
        # Hashed: the client's key may be long or contain anything.
        return KEY_PREFIX + hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()
