"""Running the app under uvicorn: one process, or WEB_WORKERS processes each with its own socket.

uvicorn's own multi-process mode binds one socket in the parent and shares it. Two things
go wrong with that, both measured with bench/api.py:
- the kernel hands each new connection to whichever process happens to be waiting in
  accept(), so a few keep-alive clients (a reverse proxy's upstream pool, a load test) pile
  onto one process while the other idles: 7 of 8 connections on one worker, half the
  machine unused;
- the shared socket is created with protocol number 0, and asyncio only sets TCP_NODELAY on
  connections of sockets whose protocol is TCP, so every keep-alive response waited for the
  client's delayed ACK: about 40 ms more per request.
So with several workers, each process binds its own socket to the same port with
SO_REUSEPORT (the kernel then spreads connections across them by hash) and the protocol
set to TCP; a small supervisor here starts them, restarts one that dies, and passes
SIGINT/SIGTERM on so each finishes its requests.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from fastapi import FastAPI

import events
from settings import Settings
from utils.logs import configure_logging

log = logging.getLogger(__name__)

#: A worker that dies this soon after starting is not restarted: it would only die again.
CRASH_LOOP_SECONDS = 10.0
#: How long a stopping worker may take to finish its requests before it is killed.
STOP_TIMEOUT_SECONDS = 30.0


def _config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.web_host,
        port=settings.port,
        # X-Forwarded-For is read by web/clients.py, which parses it as IPs (uvicorn takes any string).
        proxy_headers=False,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=settings.web_access_log,
        log_config=None,  # uvicorn's loggers go through our logging setup (JSON lines) too
        server_header=False,
    )


def serve(app: FastAPI, settings: Settings) -> None:
    """One process: uvicorn binds the socket itself (asyncio sets TCP_NODELAY on its connections)."""
    server = uvicorn.Server(_config(app, settings))
    server.run()
    if not server.started:  # it has logged why (the port is taken, say)
        raise SystemExit(3)


def listening_socket(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of a TCP-protocol socket.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker_process() -> None:
    """One web process of several: settings from the environment, its own SO_REUSEPORT socket."""
    from web.app import create_app  # in the child: the app is built after the spawn

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    sock = listening_socket(settings.web_host, settings.port)
    uvicorn.Server(_config(create_app(settings), settings)).run(sockets=[sock])


def serve_processes(settings: Settings) -> int:
    """WEB_WORKERS processes on one port; returns the exit code once they have all stopped."""
    # SO_REUSEPORT would also let a second server (an accidental second `make serve`) share the
    # port and take half its connections: bind it once without, to be sure it is free.
    try:
        listening_socket(settings.web_host, settings.port, reuse_port=False).close()
    except OSError as exc:
        log.error(events.WEB_PORT_UNAVAILABLE, extra={'port': settings.port, 'error': str(exc)})
        return 3
    context = multiprocessing.get_context('spawn')  # a clean interpreter each: no state forked from here
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker_process, name='papanoel-web')
        process.start()
        return process, time.monotonic()

    workers = [start() for _ in range(settings.web_workers)]
    log.info(events.WEB_STARTED, extra={'url': f'http://{settings.web_host}:{settings.port}',
                                   'processes': settings.web_workers})  # fmt: skip
    exit_code = 0
    while not stopping.wait(0.5):
        for index, (process, started) in enumerate(workers):
            if process.is_alive():
                continue
            if time.monotonic() - started < CRASH_LOOP_SECONDS:
                log.error(events.WEB_WORKER_FAILED, extra={'exitcode': process.exitcode, 'pid': process.pid})
                exit_code = 1
                stopping.set()
                break
            log.warning(events.WEB_WORKER_RESTARTED, extra={'exitcode': process.exitcode, 'pid': process.pid})
            workers[index] = start()
    for process, _ in workers:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn stops accepting and finishes what it has
    for process, _ in workers:
        process.join(STOP_TIMEOUT_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
    return exit_code
