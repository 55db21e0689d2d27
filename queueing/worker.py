"""Running RQ workers (forking: each job in its own work horse) on the video queue."""

from __future__ import annotations

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.worker_pool import WorkerPool

from queueing.jobs import current_production
from settings import Settings


def run_workers(conn: Redis, settings: Settings, *, burst: bool = False) -> None:
    """Work the queue until stopped (or, with `burst`, until it is empty)."""
    current_production()  # build once in the parent so every forked horse starts warm
    if settings.worker_count == 1:
        worker = Worker([Queue(settings.queue_name, connection=conn)], connection=conn)
        worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=True)
    else:
        pool = WorkerPool([settings.queue_name], connection=conn, num_workers=settings.worker_count)
        pool.start(burst=burst, logging_level=settings.log_level)


def drain_in_process(conn: Redis, settings: Settings) -> None:
    """Process every queued job in this process: the embedded-Redis demo, where no fork may share it."""
    current_production()
    worker = SimpleWorker([Queue(settings.queue_name, connection=conn)], connection=conn)
    worker.work(burst=True, logging_level=settings.log_level)
