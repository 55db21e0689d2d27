"""Orders rendering on one machine take its CPU in the order they arrived.

Two work horses rendering at once share the cores equally, so each order takes about twice as
long as alone, and a parent whose order came first waits for one that came later. Given the
cores first, the earlier order finishes as fast as alone and the later one runs on what is
left, then at full speed: at half the machine's capacity, most orders never meet another, and
those that do wait less in all.

Each running order leaves an entry named by its arrival time in a directory every worker of
the machine shares. Before a work horse starts a tool (FFmpeg, espeak-ng, in utils.proc.run),
it looks for a running order that arrived before its own, and if there is one the tool runs
LATER_NICENESS steps nicer. Asked at every tool start, so once the earlier order is done the
later one's next tool runs at full priority again. An entry whose process is gone (a killed
horse), or whose PID now names another process, counts for nothing and is removed.

Only priorities change: a later order is never held back from a core the earlier one leaves
idle. Workers in other containers have their own directory and don't see each other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import events
from utils.proc import set_child_niceness

log = logging.getLogger(__name__)

# CFS weights at nice 0 and 10 are 1024 and 110: the earlier order gets ~90% of a shared core.
LATER_NICENESS = 10


def default_directory() -> Path:
    return Path(tempfile.gettempdir()) / f'papa-noel-running-orders-{os.getuid()}'


@contextmanager
def running_order(arrived_at: float, directory: Path | None = None) -> Iterator[None]:
    """While inside, this process's tools yield the CPU to orders that arrived before `arrived_at`."""
    directory = directory or default_directory()
    entry = directory / entry_name(arrived_at, os.getpid())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        entry.touch()
    except OSError as exc:  # a priority is a nicety: the order is made all the same
        log.warning(events.WORKER_ARRIVAL_ORDER_UNAVAILABLE, extra={'path': str(directory), 'error': str(exc)})
        yield
        return
    set_child_niceness(lambda: LATER_NICENESS if earlier_order_running(directory, arrived_at) else 0)
    try:
        yield
    finally:
        set_child_niceness(None)
        entry.unlink(missing_ok=True)


def earlier_order_running(directory: Path, arrived_at: float) -> bool:
    """A live process of this machine is rendering an order that arrived before `arrived_at`."""
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    for name in names:
        when, _, process = name.partition('-')
        pid, _, started = process.partition('-')
        try:
            earlier = float(when) < arrived_at
            alive = earlier and _alive(int(pid), started)
        except ValueError:
            continue  # not an entry of ours
        if alive:
            return True
        if earlier:
            with contextlib.suppress(OSError):
                (directory / name).unlink()
    return False


def entry_name(arrived_at: float, pid: int) -> str:
    """`<arrival>-<pid>-<start time>`: with the start time, a PID the kernel has given to
    another process since the order's horse died does not pass for that horse."""
    return f'{arrived_at:.6f}-{pid}-{_start_time(pid)}'


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (proc(5), /proc/<pid>/stat field 22),
    or '' where /proc can't tell. Read by hand: psutil is not a dependency for one field."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return ''
    # The command name, field 2, is in parentheses and may hold spaces and parentheses.
    fields = stat[stat.rindex(')') + 2 :].split()
    return fields[22 - 3]


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    return not started or _start_time(pid) in ('', started)
