"""The job record: what a parent, the web status page and ops see of one video.

One Redis hash per video (`papanoel:video:<id>`) holds the order, the state, the
current stage, per-stage timestamps, the strategy and providers used, the output
location and the error. A list beside it keeps the event timeline.
"""

from __future__ import annotations

import json
import secrets
import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from redis import Redis, WatchError
from redis.client import Pipeline

import ledger
from ledger import search_index
from orders.model import Order
from utils.redis_values import text_dict

KEY_PREFIX = 'papanoel:video:'
#: The order page's token -> video id (web/order_page.py). The token is the parent's key to the order.
PAGE_PREFIX = 'papanoel:page:'
TIMELINE_MAX = 200
CANCELED_ERROR = 'canceled by an operator'


class State(StrEnum):
    QUEUED = 'queued'
    PROCESSING = 'processing'
    COMPLETED = 'completed'
    FAILED = 'failed'
    #: Accepted, held for a person to read its message (review/): never rendered until approved.
    REVIEW = 'review'


class StageTimes(BaseModel):
    started_at: float
    finished_at: float | None = None


class JobRecord(BaseModel):
    video_id: str
    order: Order
    state: State
    stage: str = ''
    created_at: float
    updated_at: float
    stages: dict[str, StageTimes] = Field(default_factory=dict)
    strategy: str = ''
    providers: dict[str, str] = Field(default_factory=dict)
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    output: str = ''
    error: str = ''
    #: Attempts started so far (a shutdown-interrupted attempt is given back).
    attempt: int = 0
    #: One entry per failed attempt: attempt, stage, provider, error_type, message, at.
    errors: list[dict[str, Any]] = Field(default_factory=list)
    # --- Human review of the message (issue #10, review/) ---
    #: The phrase rules that held the order ('all' when MESSAGE_REVIEW=all).
    review_flags: list[str] = Field(default_factory=list)
    #: '' (never held, or still waiting), 'approved' or 'rejected'.
    review_decision: str = ''
    #: The reviewer's words to the parent when rejected.
    review_reason: str = ''
    #: A finished video's extras (#14): extra name ('poster.jpg', '1x1.mp4', ...) -> where stored.
    extras: dict[str, str] = Field(default_factory=dict)
    #: The order page's unguessable token (/v/<token>): 192 random bits, not derived from the id.
    page_token: str = ''
    #: When the video was delivered (stored and recorded): retention counts from here.
    completed_at: float | None = None
    #: Names of media published for providers, and audio-cache keys made from this order's text.
    traces: dict[str, list[str]] = Field(default_factory=dict)


def record_key(video_id: str) -> str:
    return f'{KEY_PREFIX}{video_id}'


def checkpoints_key(video_id: str) -> str:
    return f'{KEY_PREFIX}{video_id}:checkpoints'


def timeline_key(video_id: str) -> str:
    return f'{KEY_PREFIX}{video_id}:timeline'


def page_key(token: str) -> str:
    return f'{PAGE_PREFIX}{token}'


class JobRecords:
    def __init__(self, conn: Redis) -> None:
        self.conn = conn

    def create(self, pipe: Pipeline, order: Order, *, review_flags: list[str] | None = None) -> None:
        """Write a new queued record inside the caller's transaction (see queueing.enqueue); with
        `review_flags`, a record held in review instead (see review/)."""
        now = time.time()
        held = review_flags is not None
        token = secrets.token_urlsafe(24)
        mapping: dict[str, str | float] = {
            'video_id': order.video_id,
            'order': order.model_dump_json(),
            'state': (State.REVIEW if held else State.QUEUED).value,
            'created_at': now,
            'updated_at': now,
            'page_token': token,
        }
        if held:
            mapping['review_flags'] = json.dumps(review_flags)
        pipe.hset(record_key(order.video_id), mapping=mapping)  # type: ignore[arg-type]
        event = f'held_for_review: {", ".join(review_flags or [])}' if held else 'queued'
        pipe.set(page_key(token), order.video_id)
        self._event(pipe, order.video_id, event, now)
        search_index.add(pipe, order.video_id, order.parent_email, now)  # dashboard list + search
        if held:
            search_index.hold_for_review(pipe, order.video_id, now)  # the review-waiting alert reads it

    def decide_review(self, pipe: Pipeline, video_id: str, *, approved: bool, reason: str = '') -> None:
        """A reviewer's decision, inside the caller's transaction: approved -> queued, rejected -> failed."""
        now = time.time()
        mapping: dict[str, str | float] = {
            'state': (State.QUEUED if approved else State.FAILED).value,
            'review_decision': 'approved' if approved else 'rejected',
            'review_reason': reason,
            'updated_at': now,
        }
        pipe.hset(record_key(video_id), mapping=mapping)  # type: ignore[arg-type]
        self._event(pipe, video_id, 'review_approved' if approved else 'review_rejected', now)
        search_index.review_decided(pipe, video_id)

    def get(self, video_id: str) -> JobRecord | None:
        raw = self.conn.hgetall(record_key(video_id))
        if not raw:
            return None
        fields = text_dict(raw)
        stages: dict[str, dict[str, float]] = {}
        for name, value in fields.items():
            if name.startswith('stage:'):
                _, stage, edge = name.split(':')
                stages.setdefault(stage, {})[edge] = float(value)
        return JobRecord(
            video_id=fields['video_id'],
            order=Order.model_validate_json(fields['order']),
            state=State(fields['state']),
            stage=fields.get('stage', ''),
            created_at=float(fields['created_at']),
            updated_at=float(fields['updated_at']),
            stages={name: StageTimes(**times) for name, times in stages.items()},
            strategy=fields.get('strategy', ''),
            providers=json.loads(fields.get('providers', '{}')),
            attempts=json.loads(fields.get('attempts', '[]')),
            output=fields.get('output', ''),
            error=fields.get('error', ''),
            attempt=int(fields.get('attempt', 0)),
            errors=json.loads(fields.get('errors', '[]')),
            review_flags=json.loads(fields.get('review_flags', '[]')),
            review_decision=fields.get('review_decision', ''),
            review_reason=fields.get('review_reason', ''),
            extras=json.loads(fields.get('extras', '{}')),
            page_token=fields.get('page_token', ''),
            completed_at=float(fields['completed_at']) if fields.get('completed_at') else None,
            traces=json.loads(fields.get('traces', '{}')),
        )

    def video_for_page(self, token: str) -> str | None:
        value = self.conn.get(page_key(token)) if token else None
        return value.decode() if isinstance(value, bytes) else value

    def add_event(self, video_id: str, event: str, **data: Any) -> None:
        """One timeline entry (deliveries, deletions), never personal data."""
        now = time.time()
        with self.conn.pipeline() as pipe:
            pipe.rpush(timeline_key(video_id), json.dumps({'at': now, 'event': event, **data}))
            pipe.ltrim(timeline_key(video_id), -TIMELINE_MAX, -1)
            ledger.append(pipe, video_id, event, now)
            pipe.execute()

    def add_traces(self, video_id: str, kind: str, names: list[str]) -> None:
        """Remember what personal files this order made outside its own names, so deletion finds them."""
        if not names or not self.conn.exists(record_key(video_id)):
            return
        record = self.get(video_id)
        traces = record.traces if record else {}
        traces[kind] = sorted({*traces.get(kind, []), *names})
        self.conn.hset(record_key(video_id), 'traces', json.dumps(traces))

    def timeline(self, video_id: str) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self.conn.lrange(timeline_key(video_id), 0, -1)]

    def start_attempt(self, video_id: str) -> int:
        now = time.time()
        with self.conn.pipeline() as pipe:
            pipe.hincrby(record_key(video_id), 'attempt', 1)
            pipe.hset(record_key(video_id), mapping={'state': State.PROCESSING.value, 'attempt_started_at': now,
                                                     'updated_at': now})  # fmt: skip
            attempt = pipe.execute()[0]
        self._update(video_id, now, {}, event=f'attempt:{attempt}')
        return int(attempt)

    def count_unstarted_attempt(self, video_id: str, dispatched_at: float) -> int | None:
        """RQ dispatched an attempt at `dispatched_at` whose work horse died before `start_attempt`
        ran: count it here too, so its crash is listed under its own number. Returns that number,
        or None when the attempt had started (or was counted already)."""
        key = record_key(video_id)
        with self.conn.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    attempt, started = pipe.hmget(key, ['attempt', 'attempt_started_at'])
                    if not pipe.exists(key) or float(started or 0) >= dispatched_at:
                        pipe.reset()
                        return None
                    counted = int(attempt or 0) + 1
                    pipe.multi()
                    # The attempt's start is RQ's dispatch: a second look at the same crash counts nothing.
                    pipe.hset(key, mapping={'attempt': counted, 'attempt_started_at': dispatched_at})
                    self._event(pipe, video_id, f'attempt_lost:{counted}', time.time())
                    pipe.execute()
                    return counted
                except WatchError:
                    continue

    def attempt_started_since(self, video_id: str, dispatched_at: float) -> bool:
        """Whether the attempt RQ dispatched at `dispatched_at` got as far as `start_attempt`."""
        started = self.conn.hget(record_key(video_id), 'attempt_started_at')
        return float(started or 0) >= dispatched_at

    def give_back_attempt(self, video_id: str, reason: str, *, counted: bool = True) -> None:
        """An attempt interrupted by a shutdown is not a failure: it goes back to the queue uncounted
        (`counted`: it had started, so the record counted it)."""
        now = time.time()
        with self.conn.pipeline() as pipe:
            if counted:
                pipe.hincrby(record_key(video_id), 'attempt', -1)
            pipe.hset(record_key(video_id), mapping={'state': State.QUEUED.value, 'stage': '', 'updated_at': now})
            self._event(pipe, video_id, f'requeued: {reason}', now)
            pipe.execute()

    def start_stage(self, video_id: str, stage: str) -> None:
        now = time.time()
        self._update(
            video_id,
            now,
            {'state': State.PROCESSING.value, 'stage': stage, f'stage:{stage}:started_at': now},
            event=f'stage:{stage}',
        )

    def finish_stage(self, video_id: str, stage: str) -> None:
        now = time.time()
        self._update(video_id, now, {f'stage:{stage}:finished_at': now})

    def complete(
        self, video_id: str, *, output: str, strategy: str, providers: dict[str, str], attempts: list[dict[str, Any]]
    ) -> None:
        fields: dict[str, str | float] = {
            'state': State.COMPLETED.value,
            'stage': '',
            'output': output,
            'strategy': strategy,
            'providers': json.dumps(providers),
            'attempts': json.dumps(attempts),
            'error': '',
        }
        now = time.time()
        fields['completed_at'] = now
        self._update(video_id, now, fields, event='completed')

    def fail_attempt(self, video_id: str, error: dict[str, Any], *, final: bool) -> None:
        """Record one failed attempt; `final` when no attempt is left (the job goes to the dead-letter queue)."""
        record = self.get(video_id)
        errors = [*(record.errors if record else []), error]
        fields: dict[str, str | float] = {
            'state': (State.FAILED if final else State.QUEUED).value,
            'stage': '',
            'error': f'{error.get("stage", "")}: {error.get("message", "")}',
            'errors': json.dumps(errors),
        }
        if 'chain' in error:
            fields['attempts'] = json.dumps(error['chain'])
        self._update(video_id, time.time(), fields, event='failed' if final else 'retry_scheduled')

    def mark_failed(self, video_id: str) -> None:
        self._update(video_id, time.time(), {'state': State.FAILED.value, 'stage': ''}, event='dead_lettered')

    def reset_for_retry(self, pipe: Pipeline, video_id: str) -> None:
        """An admin retry from the dead-letter queue: a fresh attempt budget; the error history stays."""
        now = time.time()
        pipe.hset(
            record_key(video_id),
            mapping={'state': State.QUEUED.value, 'stage': '', 'attempt': 0, 'error': '', 'updated_at': now},
        )
        self._event(pipe, video_id, 'retried_from_dead_letter_queue', now)

    # --- reconciliation and cancel (issue #11) ---

    @staticmethod
    def reopen(pipe: Pipeline, video_id: str, reason: str) -> None:
        """Back to queued inside the caller's transaction: its RQ job was lost and is being re-created."""
        now = time.time()
        pipe.hset(record_key(video_id), mapping={'state': State.QUEUED.value, 'stage': '', 'updated_at': now})
        JobRecords._event(pipe, video_id, f'requeued: {reason}', now)

    @staticmethod
    def cancel(pipe: Pipeline, video_id: str) -> None:
        """An operator took this order out of production (`cli.py cancel`); nothing puts it back."""
        now = time.time()
        pipe.hset(record_key(video_id), mapping={'state': State.FAILED.value, 'stage': '', 'error': CANCELED_ERROR,
                                                 'canceled_at': now, 'updated_at': now})  # fmt: skip
        JobRecords._event(pipe, video_id, 'canceled', now)

    def note(self, video_id: str, event: str) -> None:
        """Add an event to the timeline (and the ledger) without changing the record, e.g. an admin action."""
        self._update(video_id, time.time(), {}, event=event)

    def delete(self, pipe: Pipeline, video_id: str) -> None:
        pipe.delete(record_key(video_id), timeline_key(video_id), checkpoints_key(video_id))

    def _update(self, video_id: str, now: float, fields: dict[str, str | float], event: str | None = None) -> None:
        with self.conn.pipeline() as pipe:
            pipe.hset(record_key(video_id), mapping={**fields, 'updated_at': now})  # type: ignore[dict-item]
            if event:
                self._event(pipe, video_id, event, now)
            pipe.execute()

    @staticmethod
    def _event(pipe: Pipeline, video_id: str, event: str, now: float) -> None:
        pipe.rpush(timeline_key(video_id), json.dumps({'at': now, 'event': event}))
        pipe.ltrim(timeline_key(video_id), -TIMELINE_MAX, -1)
        ledger.append(pipe, video_id, event, now)  # the cross-job ledger and its counters (ledger/)
