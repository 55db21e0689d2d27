"""Orders on one machine take the CPU in arrival order (workers.arrival_order): the tools of an
order that arrived later run nicer while an earlier one renders, at full priority otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from utils.proc import run
from workers.arrival_order import LATER_NICENESS, entry_name, running_order


def tool_niceness() -> int:
    """The niceness of a program `run` starts now, as that program reports it (coreutils' nice)."""
    return int(run(['nice'], timeout=30)) - os.nice(0)


def test_a_later_order_runs_its_tools_nicer_only_while_an_earlier_one_is_running(tmp_path: Path) -> None:
    earlier = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'], stdin=subprocess.PIPE)
    try:
        (tmp_path / entry_name(100.0, earlier.pid)).touch()  # what that order's running_order leaves
        with running_order(50.0, tmp_path):  # arrived first: full priority
            assert tool_niceness() == 0
        with running_order(200.0, tmp_path):
            assert tool_niceness() == LATER_NICENESS
            earlier.communicate(b'', timeout=30)  # the earlier order's horse ends (or is killed)
            assert tool_niceness() == 0  # the next tool runs at full priority again
    finally:
        if earlier.poll() is None:
            earlier.kill()
            earlier.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # its own entry and the dead one's are gone
    assert tool_niceness() == 0  # outside an order: as the process itself


def test_an_entry_whose_pid_now_names_another_process_counts_for_nothing(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'], stdin=subprocess.PIPE)
    try:
        # The dead horse's PID, given by the kernel to a process that started later than it.
        name = entry_name(100.0, other.pid)
        started = int(name.rsplit('-', 1)[1])
        (tmp_path / f'{100.0:.6f}-{other.pid}-{started - 1}').touch()
        with running_order(200.0, tmp_path):
            assert tool_niceness() == 0
        assert list(tmp_path.iterdir()) == []
    finally:
        other.communicate(b'', timeout=30)


def test_two_orders_in_one_directory_each_see_the_other(tmp_path: Path) -> None:
    code = (
        'import sys\n'
        'from pathlib import Path\n'
        'from workers.arrival_order import running_order\n'
        'with running_order(float(sys.argv[1]), Path(sys.argv[2])):\n'
        '    print("in", flush=True)\n'
        '    sys.stdin.read()\n'
    )
    root = Path(__file__).resolve().parent.parent
    other = subprocess.Popen([sys.executable, '-c', code, '100', str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, cwd=root, env={**os.environ, 'PYTHONPATH': str(root)})  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline() == b'in\n'  # its entry is there
        with running_order(200.0, tmp_path):
            assert tool_niceness() == LATER_NICENESS
        with running_order(99.0, tmp_path):
            assert tool_niceness() == 0
    finally:
        other.communicate(b'', timeout=30)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_directory_leaves_the_order_at_its_own_priority(tmp_path: Path) -> None:
    blocked = tmp_path / 'a-file'
    blocked.write_text('')
    with running_order(200.0, blocked / 'running'):  # under a file: no directory can be made
        assert tool_niceness() == 0
