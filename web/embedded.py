"""One video worker in a thread of the web process, for `make serve` without REDIS_URL.

The embedded Redis (fakeredis) lives inside one process, so a separate `worker.py` could not
see its queue: the worker has to run here. It is RQ's SimpleWorker (no fork: a forked work
horse would get its own copy of the in-memory Redis) with three changes:
- no signal handlers: RQ installs them in work(), which only the main thread may do, and
  uvicorn owns the process's signals anyway;
- job timeouts by timer thread instead of SIGALRM, for the same reason;
- what VideoWorker adds and this mode needs: the dead-letter sweep, and running due retries
  itself (RQ's scheduler would be a separate process, which could not see this Redis either).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

import events
from deadletter import DeadLetterQueue
from delivery.jobs import current_settings, worker_queues
from privacy.retention import purge
from settings import Settings
from workers.jobs import current_production, use_settings

log = logging.getLogger(__name__)

PURGE_LOCK_KEY = 'papanoel:purge:lock'


class ThreadWorker(SimpleWorker):
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Only the main thread may install signal handlers; uvicorn's handle SIGINT/SIGTERM."""

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ''
    ) -> None:
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        DeadLetterQueue(self.connection).sweep(queue.name)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        self._enqueue_due_retries()
        for queue in self.queues:
            DeadLetterQueue(self.connection).sweep(queue.name)
        self._purge_if_due()

    def _purge_if_due(self) -> None:
        """The retention purge, as VideoWorker runs it with its cleanup: once per CLEANUP_INTERVAL_HOURS."""
        settings = current_settings()
        every = max(int(settings.cleanup_interval_hours * 3600), 1)
        if self.connection.set(PURGE_LOCK_KEY, self.name, nx=True, ex=every):
            purge(self.connection, current_production().storage, settings)

    def _enqueue_due_retries(self) -> None:
        scheduler = RQScheduler(self.queues, connection=self.connection)
        if scheduler.acquire_locks():  # type: ignore[no-untyped-call]
            try:
                scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
            finally:
                scheduler.release_locks()  # type: ignore[no-untyped-call]


def start_worker(conn: Redis, settings: Settings) -> tuple[ThreadWorker, threading.Thread]:
    """Start one worker on `settings.queue_name` in a daemon thread (it dies with the process,
    as the embedded Redis does)."""
    use_settings(settings)
    current_production()  # fail now, in the log, rather than on the first order
    # An idle worker blocks on the queue for (worker ttl - 15 s) between maintenance passes,
    # which also run retries that have come due: keep it short here.
    worker = ThreadWorker(
        [Queue(name, connection=conn) for name in worker_queues(settings)],
        connection=conn,
        maintenance_interval=settings.maintenance_interval_seconds,
        default_worker_ttl=settings.maintenance_interval_seconds + 15,
        job_monitoring_interval=settings.job_monitoring_interval_seconds,
    )
    thread = threading.Thread(
        target=worker.work,
        kwargs={'burst': False, 'logging_level': settings.log_level, 'with_scheduler': False},
        name='embedded-video-worker',
        daemon=True,
    )
    thread.start()
    log.info(events.WEB_EMBEDDED_WORKER_STARTED, extra={'worker': worker.name, 'queue': settings.queue_name})
    return worker, thread
