"""Warm start: a worker gets its asset set's template ready before it takes any job, then
prepares every strategy-3 ending while the queue is idle.

- `warm_start` runs in the worker's parent process before RQ starts. It builds (or loads)
  the template of every format in WARM_FORMATS, so no parent's order waits for a template
  build, and it fills the parent's per-process caches (asset hashes, the FFmpeg version)
  that every forked work horse inherits. Meanwhile a `papanoel:warming:<host>:<pid>` key, renewed while the build runs
  and expiring if the worker dies, makes health_check.py report "warming".
- With PREPARE_ENDINGS_AT_START (the default) the warm start also encodes every strategy-3
  ending before the first job, so the first order of a new asset set already copies its
  ending; health says "warming" until then.
- `start_ending_preparer` forks low-priority processes that encode the template's
  missing strategy-3 endings (compose.endings) only while no job is queued or running on
  the queue, killing its encode the moment one is. One per worker: they claim endings one
  by one (a lock each), so an idle machine prepares on every core; an ending an order kept
  meanwhile is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess

from redis import Redis, RedisError
from rq import Queue

import events
from compose import AssetError, loudness
from compose.assets import AssetSet
from compose.endings import prepare_endings
from compose.parts import Deadline
from compose.spec import RenderSpec
from compose.templates import Template, TemplateError, prepare_template
from pipeline.extras import format_spec
from queueing.warming import WARMING_KEY_PREFIX
from settings import Settings
from subtitles import espeak_words
from subtitles.espeak_words import EspeakTimingError
from utils.proc import CommandError, _die_with_parent
from workers.jobs import current_production

log = logging.getLogger(__name__)

WARMING_TTL_SECONDS = 30
WARMING_RENEW_SECONDS = 5
#: A template build on filmed footage takes tens of seconds; a stuck one must not hang the start.
WARM_START_TIMEOUT_SECONDS = 1800


def warm_start(conn: Redis, settings: Settings, *, burst: bool = False) -> Template | None:
    """Build or load this worker's templates (every format of WARM_FORMATS) before it takes jobs.

    Returns the template of the configured output (the one the ending preparer fills); None when
    it renders single-pass or its build failed (orders then build it, or fall back to
    single-pass, as before). A failed build of another format is logged and left to its orders.
    """
    production = current_production()
    try:  # probed once here, inherited by every horse (whatever the render mode)
        production.assets()
    except AssetError as exc:
        log.error(events.WORKER_WARM_START_FAILED, extra={'error': str(exc)})
        return None
    loudness.meter_library()  # imported here, before any horse is forked: each one measures its speech
    with contextlib.suppress(EspeakTimingError):  # then each order's subtitles say what is wrong
        espeak_words.load_library()  # likewise: each horse times its speech's words
    if production.render.mode != 'template':
        return None
    key = f'{WARMING_KEY_PREFIX}{socket.gethostname()}:{os.getpid()}'
    started = time.monotonic()
    specs = {'output': production.spec} | {f: format_spec(production.spec, f) for f in settings.warm_formats}
    templates: dict[str, Template] = {}
    with _flag(conn, key):
        log.info(events.WORKER_WARMING, extra={'template_cache_dir': str(production.render.template_cache_dir),
                                               'formats': settings.warm_formats})  # fmt: skip
        deadline = Deadline.after(WARM_START_TIMEOUT_SECONDS)
        for name, spec in specs.items():
            if name != 'output' and spec == production.spec:
                continue  # the configured output is this format (9:16 by default): built just now
            try:
                templates[name] = prepare_template(production.assets(), spec, production.render.template_cache_dir,
                                                   deadline=deadline)  # fmt: skip
            except (AssetError, TemplateError, CommandError, OSError, TimeoutError) as exc:
                log.error(events.WORKER_WARM_START_FAILED, extra={'error': str(exc), 'format': name})
                if name == 'output':
                    return None
        template = templates['output']
        if settings.prepare_endings_at_start and not burst:  # a burst drains its queue and ends: no later orders
            _prepare_endings_before_jobs(settings, template, deadline)
    log.info(events.WORKER_WARM, extra={'template': template.directory.name, 'formats': len(templates),
                                        'seconds': round(time.monotonic() - started, 2)})  # fmt: skip
    return template


@contextmanager
def _flag(conn: Redis, key: str) -> Iterator[None]:
    since = str(time.time())
    conn.set(key, since, ex=WARMING_TTL_SECONDS)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(WARMING_RENEW_SECONDS):
            try:
                conn.set(key, since, ex=WARMING_TTL_SECONDS)
            except RedisError:
                pass  # the key expires on its own; warming goes on

    renewer = threading.Thread(target=renew, name='warming-flag', daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        try:
            conn.delete(key)
        except RedisError:
            pass


def _prepare_endings_before_jobs(settings: Settings, template: Template, deadline: Deadline) -> None:
    """Every strategy-3 ending of the template encoded before the worker takes its first job."""
    started = time.monotonic()
    processes = start_ending_preparer(settings, template, at_start=True)
    for process in processes:
        process.join(timeout=deadline.remaining())
        if process.is_alive():  # past the warm start's deadline: orders encode what is left
            process.kill()
    log.info(events.WORKER_ENDINGS_READY_AT_START, extra={'seconds': round(time.monotonic() - started, 2)})


def start_ending_preparer(settings: Settings, template: Template, *, at_start: bool = False) -> list[BaseProcess]:
    """Fork one ending preparer per worker (daemons: they end with the worker).

    Idle-time preparers encode only while no job is queued or running; `at_start` ones run
    during the warm start, before any job is taken, and never wait for the queue.
    """
    enabled = settings.prepare_endings_at_start if at_start else settings.prepare_endings_when_idle
    if not enabled or not template.loop_period:
        return []
    production = current_production()
    assets = production.assets()
    processes: list[BaseProcess] = []
    for i in range(settings.worker_count):
        process = multiprocessing.get_context('fork').Process(
            target=_preparer_main,
            args=(settings.redis_url, settings.queue_name, template, assets, production.spec, at_start),
            name=f'ending-preparer-{i}',
            daemon=True,
        )
        process.start()
        processes.append(process)
    return processes


def queue_busy(conn: Redis, queue_name: str) -> Callable[[], bool]:
    """True while a job waits in the queue, is being taken, or runs (one Redis round trip).

    A Redis error counts as busy: the preparer never competes with orders it can't see.
    """
    queue = Queue(queue_name, connection=conn)
    keys = (queue.key, queue.intermediate_queue_key, queue.started_job_registry.key)

    def busy() -> bool:
        try:
            with conn.pipeline(transaction=False) as pipe:
                pipe.llen(keys[0])
                pipe.llen(keys[1])
                pipe.zcard(keys[2])
                return any(int(n) for n in pipe.execute())
        except RedisError:
            return True

    return busy


def _preparer_main(
    redis_url: str, queue_name: str, template: Template, assets: AssetSet, spec: RenderSpec, at_start: bool
) -> None:
    _die_with_parent()  # a SIGKILLed worker leaves no preparer behind
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker's Ctrl-C is for the worker; we die with it
    os.nice(19)  # lowest priority: the orders' FFmpegs always come first
    conn = Redis.from_url(redis_url)
    busy = (lambda: False) if at_start else queue_busy(conn, queue_name)
    try:
        prepare_endings(template, assets, spec, busy=busy)  # side by side with other workers' preparers
    except Exception as exc:  # a background nicety: orders encode their own endings without it
        log.error(events.TEMPLATE_ENDINGS_FAILED, extra={'error': f'{type(exc).__name__}: {exc}'})
