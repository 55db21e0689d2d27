"""utils.proc.run: each tool dies with the process that started it, runs at the niceness asked,
and starts without a full fork of its caller (no preexec_fn)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workers import children, wait_for
from utils import proc
from utils.proc import CommandNotFound, run

ROOT = Path(__file__).resolve().parent.parent
CALLER = 'import sys; from utils.proc import run; print("started", flush=True); run(["sleep", "300"], timeout=600)'


def test_a_tool_dies_with_the_process_that_started_it() -> None:
    caller = subprocess.Popen([sys.executable, '-c', CALLER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout is not None and caller.stdout.readline() == 'started\n'
        tool = wait_for(lambda: children(caller.pid)[0] if children(caller.pid) else None, 30, 0.02, 'the tool')
        wait_for(lambda: Path(f'/proc/{tool}/comm').read_text() == 'sleep\n', 30, 0.02, 'its exec')
        os.kill(caller.pid, signal.SIGKILL)  # no Python of the caller's runs after this
        caller.wait(timeout=30)
        wait_for(lambda: not Path(f'/proc/{tool}').exists(), 30, 0.02, 'the orphaned tool to be killed')
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait(timeout=30)
        if caller.stdout is not None:
            caller.stdout.close()


def test_a_tool_runs_as_nice_as_asked() -> None:
    proc.set_child_niceness(lambda: 7)
    try:
        reported = run(['sh', '-c', 'cut -d" " -f19 /proc/$$/stat'], timeout=30)
    finally:
        proc.set_child_niceness(None)
    assert int(reported) == os.getpriority(os.PRIO_PROCESS, 0) + 7


def test_a_tool_starts_without_a_preexec_fn(monkeypatch: pytest.MonkeyPatch) -> None:
    # A preexec_fn keeps subprocess from vfork: a full fork of a work horse cost ~20 ms of CPU.
    seen: list[dict[str, Any]] = []
    real = subprocess.Popen

    def recording(*args: Any, **kw: Any) -> Any:
        seen.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(subprocess, 'Popen', recording)
    proc.set_child_niceness(lambda: 3)
    try:
        run(['true'], timeout=30)
    finally:
        proc.set_child_niceness(None)
    assert seen and seen[0].get('preexec_fn') is None


def test_a_missing_tool_is_named() -> None:
    with pytest.raises(CommandNotFound, match='no-such-tool-here: not installed'):
        run(['no-such-tool-here', '-v'], timeout=30)
