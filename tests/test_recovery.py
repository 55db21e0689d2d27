"""Crash recovery: to the front of the queue, in seconds, with nothing left running behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job

import events
from deadletter import DeadLetterQueue
from deadletter.crashes import crashes
from locking import VideoLock, holder_alive
from locking.video_lock import alive_key
from orders import Order, parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from tests.workers import FAST_RECOVERY, children, horse_of, kill_hard, start_worker, stop, wait_for
from workers.recovery import LOCK_GRACE_HEARTBEATS, RECOVER_LOCK_KEY, recover_abandoned

QUEUE = 'papa-noel-videos'
#: With 1 s heartbeats a crash is seen after the lock's 2 s liveness key and a 3 s grace; 20 s is generous
#: for a loaded machine and far below RQ's own ~90 s + maintenance interval.
RECOVERY_BOUND_SECONDS = 20


def order(name: str) -> Order:
    return parse_order({'child_name': name, 'age': 7, 'message': 'Eres muy valiente', 'parent_email': 'p@example.com',
                        'consent': True})  # fmt: skip


def in_stage(conn: Redis, video_id: str, stage: str) -> bool:
    r = JobRecords(conn).get(video_id)
    return r is not None and r.stage == stage


def first_stage_after(conn: Redis, video_id: str, after: float) -> float:
    """When the first stage of production began after `after` (an attempt starting)."""
    return min(float(e['at']) for e in JobRecords(conn).timeline(video_id)
               if e['event'].startswith('stage:') and float(e['at']) > after)  # fmt: skip


def alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'


def _enqueue(conn: Redis, o: Order) -> None:
    """An order with three attempts and no delay between them, as these tests recover it."""
    enqueue_order(conn, o, queue_name=QUEUE, job_timeout=300, retry=job_retry(3, [0]))


def _wait_in_compose(conn: Redis, o: Order) -> None:
    wait_for(lambda: in_stage(conn, o.video_id, 'compose'), 60, 0.01, 'the compose stage')


def test_a_crashed_job_goes_to_the_front_and_is_picked_up_within_the_bound(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**worker_env, **FAST_RECOVERY}
    crashed = order('Sofía')
    _enqueue(redis_conn, crashed)
    first = start_worker(env, log=tmp_path / 'first.log')
    _wait_in_compose(redis_conn, crashed)
    backlog = [order(name) for name in ('Ana', 'Luis', 'Marta')]
    for o in backlog:
        _enqueue(redis_conn, o)
    kill_hard(first)
    killed_at = time.time()

    second = start_worker(env, log=tmp_path / 'second.log')
    try:
        wait_for(lambda: all(JobRecords(redis_conn).get(o.video_id).state is State.COMPLETED  # type: ignore[union-attr]
                             for o in [crashed, *backlog]), 180, 0.2, 'every video')  # fmt: skip
    finally:
        stop(second)
    timeline = JobRecords(redis_conn).timeline(crashed.video_id)
    [requeued] = [e['at'] for e in timeline if e['event'] == 'requeued: its worker was lost']
    assert requeued - killed_at < RECOVERY_BOUND_SECONDS, timeline
    # To the front: once requeued, the crashed job is the next one the (single) worker starts; a backlog
    # job may have started before the requeue (the sweep runs between jobs and on heartbeats), none after.
    restarted = first_stage_after(redis_conn, crashed.video_id, requeued)
    overtaken = [o.video_id for o in backlog if requeued < first_stage_after(redis_conn, o.video_id, 0) < restarted]
    assert overtaken == [], (overtaken, timeline)
    r = JobRecords(redis_conn).get(crashed.video_id)
    assert r is not None and r.attempt == 2 and r.errors == []


def test_work_horse_and_scheduler_die_with_their_worker(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**worker_env, **FAST_RECOVERY}
    o = order('Pablo')
    _enqueue(redis_conn, o)
    worker = start_worker(env, log=tmp_path / 'w.log')
    _wait_in_compose(redis_conn, o)
    orphans = wait_for(lambda: children(worker.pid) if len(children(worker.pid)) >= 2 else [], 30, 0.05,
                       'the work horse and the scheduler')  # fmt: skip
    try:
        os.kill(worker.pid, signal.SIGKILL)  # the worker alone, not its children
        worker.wait(timeout=10)
        wait_for(lambda: not any(alive(pid) for pid in orphans), 10, 0.05, 'the orphans to end')
    finally:
        for pid in orphans:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    second = start_worker(env, log=tmp_path / 'second.log')
    try:
        wait_for(lambda: JobRecords(redis_conn).get(o.video_id).state is State.COMPLETED,  # type: ignore[union-attr]
                 120, 0.2, 'recovery')  # fmt: skip
    finally:
        stop(second)


def test_a_live_job_whose_lock_renewal_is_starved_is_not_taken_and_runs_once(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**worker_env, **FAST_RECOVERY}
    o = order('Inés')
    _enqueue(redis_conn, o)
    worker = start_worker(env, log=tmp_path / 'w.log')
    try:
        _wait_in_compose(redis_conn, o)
        horse = wait_for(lambda: horse_of(worker.pid) or 0, 30, 0.01, 'the work horse')
        # The horse stops, renewal thread and all (as a starved process would): its lock's liveness lapses.
        os.kill(horse, signal.SIGSTOP)
        try:
            wait_for(lambda: not holder_alive(redis_conn, o.video_id), 30, 0.05, 'the liveness key to lapse')
            job = Job.fetch(o.video_id, connection=redis_conn)
            assert job.started_at is not None
            grace = LOCK_GRACE_HEARTBEATS * float(FAST_RECOVERY['LOCK_HEARTBEAT_SECONDS'])
            wait_for(lambda: time.time() - job.started_at.timestamp() > grace, 30, 0.05, 'the start-up grace')  # type: ignore[union-attr]
            # The worker's own sweeps, three of them after the lapse (each takes the fleet's sweep lock).
            for _ in range(3):
                redis_conn.delete(RECOVER_LOCK_KEY + QUEUE)
                wait_for(lambda: redis_conn.exists(RECOVER_LOCK_KEY + QUEUE), 30, 0.01, "the worker's sweep")
            # And one of ours, with the worker's settings and no confirmation delay: nothing is abandoned.
            assert not holder_alive(redis_conn, o.video_id)
            assert recover_abandoned(redis_conn, Queue(QUEUE, connection=redis_conn), grace_seconds=grace,
                                     worker_grace_seconds=grace, confirm_seconds=0) == []  # fmt: skip
        finally:
            os.kill(horse, signal.SIGCONT)
        wait_for(lambda: JobRecords(redis_conn).get(o.video_id).state is State.COMPLETED,  # type: ignore[union-attr]
                 120, 0.1, 'the video')  # fmt: skip
    finally:
        stop(worker)
    timeline = [e['event'] for e in JobRecords(redis_conn).timeline(o.video_id)]
    assert [e for e in timeline if e.startswith(('attempt:', 'requeued', 'dead_lettered'))] == ['attempt:1'], timeline
    assert not DeadLetterQueue(redis_conn).contains(o.video_id)


def test_a_job_is_taken_only_when_horse_and_worker_are_silent_and_a_later_sweep_agrees(redis_conn: Redis) -> None:
    # After a Redis outage every horse and worker is silent at once; they beat again within a heartbeat.
    o = order('Leo')
    _enqueue(redis_conn, o)
    queue = Queue(QUEUE, connection=redis_conn)
    job = Job.fetch(o.video_id, connection=redis_conn)
    queue.remove(job)
    with redis_conn.pipeline() as pipe:  # what an RQ worker writes as it starts the job
        execution = Execution.create(job, ttl=600, pipeline=pipe, worker_name='w1')
        job.prepare_for_execution('w1', pipeline=pipe)
        pipe.execute()
    confirm = 0.3

    def silent(horse: bool, worker: bool) -> None:
        if horse:
            redis_conn.delete(alive_key(o.video_id))
        else:
            redis_conn.set(alive_key(o.video_id), '1')
        beat = time.time() - (120 if worker else 0)
        redis_conn.hset(execution.key, 'last_heartbeat', beat)

    def sweep() -> list[str]:
        return recover_abandoned(redis_conn, queue, grace_seconds=0, worker_grace_seconds=60, confirm_seconds=confirm)

    def a_sweep_later() -> list[str]:
        since = time.monotonic()
        wait_for(lambda: time.monotonic() - since > confirm, 5, 0.05)
        return sweep()

    silent(horse=False, worker=True)  # a worker stuck, its horse renewing: never taken
    assert sweep() == [] and a_sweep_later() == []
    silent(horse=True, worker=False)  # a horse starved, its worker beating: never taken
    assert sweep() == [] and a_sweep_later() == []
    silent(horse=False, worker=False)
    assert sweep() == []  # both alive: no suspicion left
    silent(horse=True, worker=True)
    assert sweep() == []  # first sight: only suspected
    silent(horse=False, worker=False)  # both beat again
    assert a_sweep_later() == []
    silent(horse=True, worker=True)
    assert sweep() == []  # the suspicion started over
    assert a_sweep_later() == [o.video_id]
    assert queue.get_job_ids() == [o.video_id]


def test_a_worker_lost_before_its_job_started_has_that_attempt_counted_and_listed(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**worker_env, **FAST_RECOVERY}
    o = order('Bruno')
    _enqueue(redis_conn, o)
    started = Queue(QUEUE, connection=redis_conn).started_job_registry
    # A live holder of the video's lock keeps the horse waiting before its attempt can start.
    held = VideoLock(redis_conn, o.video_id, ttl_seconds=600, heartbeat_seconds=1)
    held.acquire()
    first = start_worker(env, log=tmp_path / 'first.log')
    try:
        wait_for(lambda: o.video_id in started.get_job_ids(cleanup=False) and horse_of(first.pid), 60, 0.01,
                 'the waiting work horse')  # fmt: skip
        kill_hard(first)
    finally:
        held.release()
    second = start_worker(env, log=tmp_path / 'second.log')
    try:
        wait_for(lambda: JobRecords(redis_conn).get(o.video_id).state is State.COMPLETED,  # type: ignore[union-attr]
                 120, 0.2, 'recovery')  # fmt: skip
    finally:
        stop(second)
    seen = [e['event'] for e in JobRecords(redis_conn).timeline(o.video_id)]
    assert [e for e in seen if e.startswith(('attempt', 'requeued'))] == [
        'attempt_lost:1', 'requeued: its worker was lost', 'attempt:2'], seen  # fmt: skip
    assert [e['attempt'] for e in crashes(redis_conn, o.video_id)] == [1]


def test_a_horse_taken_for_dead_that_wakes_up_leaves_the_job_to_its_new_holder(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**worker_env, **FAST_RECOVERY}
    o = order('Olga')
    _enqueue(redis_conn, o)
    first = start_worker(env, log=tmp_path / 'first.log')
    second = None
    try:
        _wait_in_compose(redis_conn, o)
        horse = wait_for(lambda: horse_of(first.pid) or 0, 30, 0.01, 'the work horse')
        # The whole worker pauses (a frozen host): horse and worker both silent, so it is taken for dead.
        os.kill(first.pid, signal.SIGSTOP)
        os.kill(horse, signal.SIGSTOP)
        try:
            second = start_worker(env, log=tmp_path / 'second.log')
            wait_for(lambda: any(e['event'] == 'attempt:2' for e in JobRecords(redis_conn).timeline(o.video_id)),
                     120, 0.1, 'the second worker to run the job')  # fmt: skip
        finally:
            os.kill(horse, signal.SIGCONT)
            os.kill(first.pid, signal.SIGCONT)
        wait_for(lambda: not alive(horse), 60, 0.05, 'the woken horse to end')
        wait_for(lambda: JobRecords(redis_conn).get(o.video_id).state is State.COMPLETED,  # type: ignore[union-attr]
                 120, 0.1, 'the video')  # fmt: skip
    finally:
        stop(first)
        if second is not None:
            stop(second)
    timeline = [e['event'] for e in JobRecords(redis_conn).timeline(o.video_id)]
    assert timeline.count('completed') == 1, timeline
    assert timeline.count('stage:store') == 1, timeline
    assert events.JOB_LEFT_TO_LOCK_HOLDER in (tmp_path / 'first.log').read_text()
