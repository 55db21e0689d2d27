"""RQ workers for the video queue, with what RQ lacks: a dead-letter queue, an uncounted
requeue on shutdown, faster recovery of crashed jobs, and periodic cleanup.

Each job runs in a forked work horse (RQ's `Worker`). On top of it:
- a job whose attempts are exhausted moves from RQ's failed registry to our persistent
  dead-letter queue, whichever way it failed (exception, killed horse, abandoned);
- SIGTERM/SIGINT stops taking jobs and lets the current one finish; past
  SHUTDOWN_TIMEOUT, or on a second signal, the job goes back to the front of the queue
  with its checkpoints, and the interrupted attempt is not counted;
- every worker, busy or idle, sweeps for started jobs whose video lock has no live holder
  (workers.recovery) and puts them at the front of the queue within seconds, and for
  orders whose RQ job vanished (maintenance.reconcile); its children die with it.
"""

from __future__ import annotations

import logging
import time
from types import FrameType
from typing import Any

from redis import Redis, RedisError
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.worker_pool import WorkerPool

import events
from alerts import SettingsNotifier, evaluate_and_notify
from deadletter import DeadLetterQueue, note_crash
from delivery.jobs import worker_queues
from locking import force_release
from maintenance import cleanup
from maintenance.reconcile import reconcile_if_due
from privacy.retention import purge
from records import JobRecords
from retries import job_retry
from settings import Settings
from storage import Storage, build_storage
from workers.jobs import current_production, entering_work_horse, given_settings, use_settings
from workers.recovery import die_with_parent_after_fork, recover_if_due
from workers.warm import start_ending_preparer, warm_start

log = logging.getLogger(__name__)

CLEANUP_LOCK_KEY = 'papanoel:cleanup:lock'


class VideoWorker(Worker):
    def __init__(self, *args: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        # A WorkerPool builds its workers itself: they take the settings run_workers was given.
        self.settings = settings or given_settings()
        kwargs.setdefault('job_monitoring_interval', self.settings.job_monitoring_interval_seconds)
        kwargs.setdefault('maintenance_interval', self.settings.maintenance_interval_seconds)
        # An idle worker blocks on dequeue for worker_ttl - 15 s; maintenance runs between blocks.
        kwargs.setdefault('default_worker_ttl', self.settings.maintenance_interval_seconds + 15)
        super().__init__(*args, **kwargs)
        die_with_parent_after_fork()
        self._stop_requested_at: float | None = None
        self._given_back_job_id: str | None = None
        self._storage: Storage | None = None

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        entering_work_horse()
        super().main_work_horse(job, queue)

    # --- failures and the dead-letter queue ---

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ''
    ) -> None:
        if job.id == self._given_back_job_id:
            self._give_back(job, queue)
            return
        if exc_string.startswith('Work-horse terminated unexpectedly'):
            dispatched_at = self.execution.created_at.timestamp() if self.execution else None
            note_crash(self.connection, job.id, exc_string.strip().rstrip(';'), dispatched_at=dispatched_at)
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        if job.get_status(refresh=True) == JobStatus.FAILED:
            DeadLetterQueue(self.connection).sweep(queue.name)

    def clean_registries(self) -> None:
        self._recover_if_due()
        super().clean_registries()  # type: ignore[no-untyped-call]
        for queue in self.queues:
            DeadLetterQueue(self.connection).sweep(queue.name)
        self._reconcile_if_due()
        self._cleanup_if_due()
        self._alerts_if_due()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # Between two jobs too: with jobs shorter than the monitoring interval a busy worker never
        # heartbeats mid-job, and RQ's maintenance waits for its interval.
        self._recover_if_due()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def _recover_if_due(self) -> None:
        for queue in self.queues:
            if queue.name != self.settings.queue_name:
                continue  # delivery jobs hold no video lock: RQ's own registries look after them
            try:
                recover_if_due(self.connection, queue, owner=self.name,
                               heartbeat_seconds=self.settings.lock_heartbeat_seconds,
                               monitoring_seconds=self.settings.job_monitoring_interval_seconds)  # fmt: skip
            except RedisError:
                log.exception(events.RECOVERY_FAILED)  # the next heartbeat tries again

    def _reconcile_if_due(self) -> None:
        """Run by idle workers (maintenance) and busy ones (heartbeats): one of them per interval sweeps."""
        if self._storage is None:
            self._storage = build_storage(self.settings)
        try:
            reconcile_if_due(self.connection, owner=self.name, every_seconds=self.settings.reconcile_interval_seconds,
                             queue_name=self.queues[0].name, storage=self._storage,
                             job_timeout=self.settings.job_timeout_seconds,
                             retry=job_retry(self.settings.max_job_attempts, self.settings.job_retry_delays_seconds),
                             grace_seconds=self.settings.reconcile_grace_seconds)  # fmt: skip
        except RedisError:
            log.exception(events.RECONCILE_FAILED)  # the next interval tries again

    def _cleanup_if_due(self) -> None:
        every = int(self.settings.cleanup_interval_hours * 3600)
        if self.connection.set(CLEANUP_LOCK_KEY, self.name, nx=True, ex=max(every, 1)):
            cleanup(self.connection, self.settings.temp_dir, temp_max_age_hours=self.settings.temp_max_age_hours,
                    jobs_max_age_hours=self.settings.jobs_max_age_hours)  # fmt: skip
            # Videos past RETENTION_DAYS, with everything personal about their orders.
            purge(self.connection, current_production().storage, self.settings)

    def _alerts_if_due(self) -> None:
        # One worker of the fleet evaluates per interval (a lock inside); a failure never stops the worker.
        try:
            evaluate_and_notify(self.connection, self.settings, SettingsNotifier(self.settings))
        except Exception as exc:
            log.error(events.ALERT_EVALUATION_FAILED, extra={'error': type(exc).__name__})

    # --- shutdown ---

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested_at = time.monotonic()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def maintain_heartbeats(self, job: Job) -> None:
        try:
            super().maintain_heartbeats(job)
        except RedisError:
            # Redis is away longer than the client's retries: the horse keeps working, beat again later.
            log.warning(events.WORKER_REDIS_UNAVAILABLE, extra={'video_id': job.id})
            return
        self._recover_if_due()
        self._reconcile_if_due()
        waited = time.monotonic() - self._stop_requested_at if self._stop_requested_at else 0.0
        if self._stop_requested_at and waited > self.settings.shutdown_timeout_seconds and self.horse_pid:
            log.warning(events.WORKER_SHUTDOWN_TIMEOUT, extra={'video_id': job.id, 'waited_seconds': round(waited)})
            self._given_back_job_id = job.id
            self.kill_horse()  # the monitor loop reaps it and calls handle_job_failure, which gives it back

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        job = self.get_current_job() if self.horse_pid else None
        if job is not None and self._shutdown_requested_date and time.monotonic() - (self._stop_requested_at or 0) > 1:
            self._given_back_job_id = job.id
            self.kill_horse()
            self.wait_for_horse()
            self._give_back(job, Queue(job.origin, connection=self.connection))
            self._horse_pid = 0
        super().request_force_stop(signum, frame)

    def _give_back(self, job: Job, queue: Queue) -> None:
        """Requeue an interrupted job at the front, uncounted; its checkpoints stay."""
        records = JobRecords(self.connection)
        # A horse stopped before its attempt started (waiting for the lock, say) holds no lock
        # and counted no attempt: the lock is another holder's, and there is nothing to give back.
        started = self.execution is None or records.attempt_started_since(job.id, self.execution.created_at.timestamp())
        with self.connection.pipeline() as pipe:
            self.cleanup_execution(job, pipeline=pipe)
            pipe.execute()
        if started:
            force_release(self.connection, job.id)  # its holder, our horse, is dead
        records.give_back_attempt(job.id, 'worker shutting down', counted=started)
        queue.enqueue_job(job, at_front=True)
        self._given_back_job_id = None
        log.warning(events.JOB_REQUEUED, extra={'video_id': job.id, 'reason': 'shutdown'})


def run_workers(conn: Redis, settings: Settings, *, burst: bool = False) -> None:
    """Work the queue until stopped (or, with `burst`, until it is empty)."""
    use_settings(settings)
    current_production()  # build once in the parent so every forked horse starts warm
    template = warm_start(conn, settings, burst=burst)  # the template is ready before the first job is taken
    if template is not None and not burst:  # a burst ends with its queue: no idle time to use
        start_ending_preparer(settings, template)
    if settings.worker_count == 1:
        queues = [Queue(name, connection=conn) for name in worker_queues(settings)]  # deliveries first
        worker = VideoWorker(queues, connection=conn, settings=settings)
        worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=True)
    else:
        pool = WorkerPool(worker_queues(settings), connection=conn, num_workers=settings.worker_count,
                          worker_class=VideoWorker)  # fmt: skip
        pool.start(burst=burst, logging_level=settings.log_level)


def drain_in_process(conn: Redis, settings: Settings) -> None:
    """Process every queued job in this process: the embedded-Redis demo, where no fork may share it."""
    use_settings(settings)
    current_production()
    worker = SimpleWorker([Queue(name, connection=conn) for name in worker_queues(settings)], connection=conn)
    worker.work(burst=True, logging_level=settings.log_level)
