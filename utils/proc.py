"""Run an external program with a hard timeout, killing its whole process group on expiry."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
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
    niceness = _child_niceness() if _child_niceness is not None else 0
    try:
        command, in_child = _started(list(args), niceness)
        proc = subprocess.Popen(
            command,
            preexec_fn=in_child,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so a timeout kills ffmpeg's children too
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


def _started(args: list[str], niceness: int) -> tuple[list[str], Callable[[], None] | None]:
    """The command line and the preexec_fn that start `args` dying with this process, `niceness` nicer.

    util-linux's setpriv (and coreutils' nice) do it in the child, between fork and exec,
    with no Python there: a preexec_fn keeps subprocess from using vfork, and a full fork of
    a work horse (~140 MB with NumPy and SciPy) cost ~20 ms of CPU at each of an order's four
    or five tool starts, against ~1 ms. Without setpriv (not Linux), the preexec_fn does it.
    """
    setpriv = _tool('setpriv')
    if setpriv is None:
        return args, partial(_in_child, niceness)
    program = shutil.which(args[0])
    if program is None:
        raise FileNotFoundError(args[0])
    nice = [_tool('nice') or 'nice', '-n', str(niceness)] if niceness else []
    return [setpriv, '--pdeathsig', 'KILL', '--', *nice, program, *args[1:]], None


@functools.cache
def _tool(name: str) -> str | None:
    return shutil.which(name) if sys.platform == 'linux' else None


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
