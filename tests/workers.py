"""Running real `python worker.py` processes in tests, and killing them like a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar('T')

#: Settings that make recovery happen in seconds instead of minutes.
FAST_RECOVERY = {
    'MAINTENANCE_INTERVAL_SECONDS': '1',
    'JOB_MONITORING_INTERVAL_SECONDS': '1',
    'LOCK_HEARTBEAT_SECONDS': '1',
    'JOB_RETRY_DELAYS_SECONDS': '[0]',
}


def start_worker(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    if log is None:
        return subprocess.Popen([sys.executable, 'worker.py', *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    with log.open('ab') as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, 'worker.py', *args], cwd=ROOT, env=env, stdout=out, stderr=out)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def horse_of(worker_pid: int) -> int | None:
    """The worker's work horse, if it has one now: a fork of the worker (its command line) that
    leads its own process group, as RQ's horse does (setpgrp); RQ's scheduler does not, and the
    worker's ffprobe children run other programs."""
    try:
        worker_cmdline = Path(f'/proc/{worker_pid}/cmdline').read_bytes()
    except OSError:
        return None
    for pid in children(worker_pid):
        try:
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            cmdline = Path(f'/proc/{pid}/cmdline').read_bytes()
        except OSError:
            continue
        if int(fields[2]) == pid and cmdline == worker_cmdline and fields[0] != 'Z':
            return pid
    return None


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its work horses at once, as a machine crash would."""
    victims = [proc.pid, *children(proc.pid)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_hard(proc)
        return -9


def wait_for(what: Callable[[], T], timeout: float, interval: float = 0.05, message: str = '') -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {message or what}')
        time.sleep(interval)
