"""Deleting everything personal about one order, at once: on the parent's request (the order
page), an admin's (`cli.py forget`, GDPR Art. 17) or when its retention period ends.

What goes: every stored file of the video (`<id>.*`: every format, poster, subtitles), media
published for providers, audio-cache entries made from its text, its working directory and
outbox e-mails, and in Redis its record, timeline, checkpoints, dead-letter entry, locks,
delivery records, RQ jobs and idempotency entries. What stays: a tombstone with no personal data
(when and why), so the order page and the API can answer 410 Gone with the date.

Idempotent: forgetting a forgotten video deletes whatever may have reappeared (a render that
was running stores its file afterwards; `workers.jobs` then forgets again) and keeps the tombstone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

import events
from audiocache import AudioCache
from deadletter.queue import ENTRY_PREFIX, INDEX_KEY
from delivery.jobs import announce_webhook
from delivery.ledger import PREFIX as LEDGER_PREFIX
from ledger import search_index
from records import JobRecords, checkpoints_key, page_key, record_key, timeline_key
from settings import Settings
from storage import Storage
from utils.redis_values import text, text_dict, texts

log = logging.getLogger(__name__)

TOMBSTONE_PREFIX = 'papanoel:tombstone:'
_LOCK_PREFIX = 'papanoel:lock:'
_IDEMPOTENCY_PREFIX = 'papanoel:web:idempotency:'


def tombstone_key(video_id: str) -> str:
    return f'{TOMBSTONE_PREFIX}{video_id}'


def page_tombstone_key(token: str) -> str:
    # The page token hashed: a tombstone is no key to anything.
    return f'{TOMBSTONE_PREFIX}page:{hashlib.sha256(token.encode()).hexdigest()}'


@dataclass
class Tombstone:
    deleted_at: float
    reason: str


@dataclass
class ForgetReport:
    video_id: str
    dry_run: bool
    files: list[str] = field(default_factory=list)
    redis_keys: list[str] = field(default_factory=list)
    already_forgotten: bool = False
    callback_url: str = ''


def tombstone(conn: Redis, video_id: str) -> Tombstone | None:
    raw = text_dict(conn.hgetall(tombstone_key(video_id)))
    return Tombstone(float(raw['deleted_at']), raw['reason']) if raw else None


def page_tombstone(conn: Redis, token: str) -> Tombstone | None:
    raw = conn.get(page_tombstone_key(token))
    if not raw:
        return None
    data = json.loads(raw)
    return Tombstone(float(data['deleted_at']), data['reason'])


class Forgetter:
    def __init__(self, conn: Redis, storage: Storage, settings: Settings) -> None:
        self.conn = conn
        self.storage = storage
        self.settings = settings

    def forget(self, video_id: str, *, reason: str, dry_run: bool = False, now: float | None = None) -> ForgetReport:
        moment = time.time() if now is None else now
        self.storage.object_name(video_id)  # refuses a malformed id before anything is looked at
        records = JobRecords(self.conn)
        record = records.get(video_id)
        report = ForgetReport(video_id, dry_run, already_forgotten=tombstone(self.conn, video_id) is not None)
        traces = record.traces if record else {}
        report.callback_url = text(self.conn.hget(record_key(video_id), 'callback_url') or b'')

        report.files += self.storage.video_files(video_id)
        report.files += self.storage.media_files(traces.get('media', []))
        cache = AudioCache(self.settings.audio_cache_dir, self.settings.audio_cache_max_size_mb * 1024 * 1024)
        for key in traces.get('audio_cache', []):
            report.files += cache.entry_files(key)
        workdir = self.settings.temp_dir / video_id
        if workdir.exists():
            report.files.append(str(workdir))
        report.files += [str(p) for p in _outbox_files(self.settings.outbox_dir, video_id)]
        report.redis_keys = self._redis_keys(video_id, record.page_token if record else '')
        if dry_run:
            return report

        # The tombstone first: a render finishing meanwhile sees it and forgets again. A second
        # deletion keeps the first one's date and reason: that is what the parent was told.
        if not report.already_forgotten:
            with self.conn.pipeline() as pipe:
                pipe.hset(tombstone_key(video_id), mapping={'deleted_at': moment, 'reason': reason})
                if record and record.page_token:
                    stone = json.dumps({'deleted_at': moment, 'reason': reason})
                    pipe.set(page_tombstone_key(record.page_token), stone, nx=True)
                pipe.execute()
        self.storage.delete_video(video_id)
        self.storage.delete_media(traces.get('media', []))
        for key in traces.get('audio_cache', []):
            cache.delete(key)
        shutil.rmtree(workdir, ignore_errors=True)
        for path in _outbox_files(self.settings.outbox_dir, video_id):
            path.unlink(missing_ok=True)
        self._delete_rq_jobs(video_id)
        with self.conn.pipeline() as pipe:
            pipe.zrem(INDEX_KEY, video_id)
            search_index.remove(pipe, video_id, record.order.parent_email if record else '')
            for key in report.redis_keys:
                pipe.delete(key)
            pipe.execute()
        if report.callback_url and not report.already_forgotten:
            announce_webhook(self.conn, self.settings, video_id, 'video.deleted', report.callback_url,
                             {'id': video_id, 'deleted_at': moment, 'reason': reason})  # fmt: skip
        log.info(events.VIDEO_FORGOTTEN, extra={'video_id': video_id, 'reason': reason, 'files': len(report.files),
                                                'redis_keys': len(report.redis_keys)})  # fmt: skip
        return report

    def forget_email(self, address: str, *, reason: str, dry_run: bool = False) -> list[ForgetReport]:
        """Every order placed with `address` (compared case-insensitively), in records and the dead-letter queue."""
        wanted = address.strip().casefold()
        found: set[str] = set()
        records = JobRecords(self.conn)
        for video_id in video_ids(self.conn):
            record = records.get(video_id)
            if record is not None and str(record.order.parent_email).casefold() == wanted:
                found.add(video_id)
        for key in self.conn.scan_iter(match=ENTRY_PREFIX + '*', count=500):
            raw = self.conn.get(key)
            entry: dict[str, Any] = json.loads(raw) if raw else {}
            if str(entry.get('order', {}).get('parent_email', '')).casefold() == wanted:
                found.add(text(key).removeprefix(ENTRY_PREFIX))
        return [self.forget(video_id, reason=reason, dry_run=dry_run) for video_id in sorted(found)]

    def _redis_keys(self, video_id: str, token: str) -> list[str]:
        keys = [record_key(video_id), timeline_key(video_id), checkpoints_key(video_id), ENTRY_PREFIX + video_id]
        if token:
            keys.append(page_key(token))
        for pattern in (f'{_LOCK_PREFIX}{video_id}*', f'{LEDGER_PREFIX}{video_id}:*', f'rq:*{video_id}*'):
            keys += [text(k) for k in self.conn.scan_iter(match=pattern, count=500) if 'forget-' not in text(k)]
        # An Idempotency-Key remembered for a day names the order it made.
        for key in self.conn.scan_iter(match=_IDEMPOTENCY_PREFIX + '*', count=500):
            kind = text(self.conn.type(key))
            value = self.conn.get(key) if kind == 'string' else json.dumps(text_dict(self.conn.hgetall(key)))
            if value and video_id in text(value):
                keys.append(text(key))
        return sorted({k for k in keys if self.conn.exists(k)})

    def _delete_rq_jobs(self, video_id: str) -> None:
        """The video's job and its delivery jobs, out of every queue and registry."""
        own_job = f'forget-{video_id}'  # the job running this deletion on a worker (privacy/jobs.py) ends itself
        for raw in self.conn.scan_iter(match=f'rq:job:*{video_id}*', count=500):
            job_id = text(raw).removeprefix('rq:job:')
            if ':' in job_id or job_id == own_job:
                continue
            try:
                job = Job.fetch(job_id, connection=self.conn)
            except NoSuchJobError:
                continue
            job.delete(remove_from_queue=True)
        # Registries and queues hold bare job ids as members.
        for raw in self.conn.scan_iter(match='rq:*', count=500):
            key = text(raw)
            kind = text(self.conn.type(raw))
            if kind == 'zset':
                for member in texts(self.conn.zrange(raw, 0, -1)):
                    if video_id in member and own_job not in member:
                        self.conn.zrem(raw, member)
            elif kind == 'list' and key.startswith('rq:queue:'):
                for member in set(texts(self.conn.lrange(raw, 0, -1))):
                    if video_id in member and own_job not in member:
                        self.conn.lrem(raw, 0, member)


def video_ids(conn: Redis) -> list[str]:
    prefix = record_key('')
    ids = []
    for key in conn.scan_iter(match=prefix + '*', count=500):
        video_id = text(key).removeprefix(prefix)
        if ':' not in video_id:
            ids.append(video_id)
    return sorted(ids)


def _outbox_files(outbox: Path, video_id: str) -> list[Path]:
    if not outbox.is_dir():
        return []
    return sorted(p for p in outbox.iterdir() if p.name.startswith((f'{video_id}.', f'.{video_id}.')))
