"""Indexes the dashboard reads instead of scanning every record: newest-first, and by parent e-mail.

Written when an order is recorded (records/job_records.py, same transaction). The e-mail index is
keyed by a hash of the normalized address, so the address itself is stored only in the order.
A record deleted later (cleanup, forget) leaves a dangling id here: readers skip ids whose record
is gone and drop them (`prune`), so the indexes never need a scan to stay right.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis import Redis
from redis.client import Pipeline

from utils.redis_values import text

RECENT_KEY = 'papanoel:index:recent'
EMAIL_KEY_PREFIX = 'papanoel:index:email:'
#: Orders held for message review, scored by when they started waiting (the review alert reads it).
REVIEW_INDEX_KEY = 'papanoel:index:review'


def email_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    return EMAIL_KEY_PREFIX + digest


def add(pipe: Pipeline | Redis, video_id: str, parent_email: str, created_at: float) -> None:
    pipe.zadd(RECENT_KEY, {video_id: created_at})
    if parent_email:
        pipe.zadd(email_key(parent_email), {video_id: created_at})


def hold_for_review(pipe: Pipeline | Redis, video_id: str, since: float) -> None:
    pipe.zadd(REVIEW_INDEX_KEY, {video_id: since})


def review_decided(pipe: Pipeline | Redis, video_id: str) -> None:
    pipe.zrem(REVIEW_INDEX_KEY, video_id)


def remove(pipe: Pipeline | Redis, video_id: str, parent_email: str) -> None:
    """Forget an order in every index (its e-mail's set goes with its last entry)."""
    pipe.zrem(RECENT_KEY, video_id)
    pipe.zrem(REVIEW_INDEX_KEY, video_id)
    if parent_email:
        pipe.zrem(email_key(parent_email), video_id)


def recent(conn: Redis, offset: int = 0, limit: int = 20) -> list[str]:
    ids: Any = conn.zrevrange(RECENT_KEY, offset, offset + limit - 1)
    return [text(v) for v in ids]


def total(conn: Redis) -> int:
    count: Any = conn.zcard(RECENT_KEY)
    return int(count)


def by_email(conn: Redis, email: str, limit: int = 50) -> list[str]:
    ids: Any = conn.zrevrange(email_key(email), 0, limit - 1)
    return [text(v) for v in ids]


def prune(conn: Redis, video_ids: list[str]) -> None:
    """Drop ids whose record is gone from the recent index."""
    if video_ids:
        conn.zrem(RECENT_KEY, *video_ids)
