"""Run an external program with a hard timeout, killing its whole process group on expiry."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import partial

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True) if sys.platform == 'linux' else None
# How much lower than this process's own priority each program it starts runs (nice), asked
# at each start; None: the same.
_child_niceness: Callable[[], int] | None = None


def set_child_niceness(niceness: Callable[[], int] | None) -> None:
    """From now on, `run` starts each program `niceness()` steps nicer than this process (None: as nice)."""
    global _child_niceness
    _child_niceness = niceness


class CommandError(Exception):
    def __init__(self, args: Sequence[str], message: str) -> None:
        self.command = list(args)
        super().__init__(f'{os.path.basename(self.command[0])}: {message}')


class CommandNotFound(CommandError):
    pass


class CommandTimeout(CommandError):
    pass


class CommandFailed(CommandError):
    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-3:]
        super().__init__(args, f'exit code {returncode}: ' + ' | '.join(tail))


def run(args: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> bytes:
    """Return the program's stdout; raise CommandNotFound, CommandTimeout or CommandFailed."""
    try:
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so a timeout kills ffmpeg's children too
            preexec_fn=partial(_in_child, _child_niceness() if _child_niceness is not None else 0),
        )
    except FileNotFoundError:
        raise CommandNotFound(args, 'not installed or not on PATH') from None
    try:
        out, err = proc.communicate(input=stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise CommandTimeout(args, f'killed after {timeout:g} s') from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        raise CommandFailed(args, proc.returncode, err.decode('utf-8', 'replace'))
    return out


def _in_child(niceness: int) -> None:
    _die_with_parent()
    if niceness:
        os.nice(niceness)


def _die_with_parent() -> None:
    """In the child: get SIGKILL if our parent dies, so a SIGKILLed worker leaves no orphan
    ffmpeg still writing into a working directory that the job's next attempt reuses."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
