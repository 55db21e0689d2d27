"""`make demo`'s command: one order end to end, printing the path of the finished MP4."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from redis import Redis

from orders import parse_order
from tests.media import assert_output_spec, expected_duration

ROOT = Path(__file__).resolve().parent.parent


def demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, 'cli.py', 'demo', *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_demo_on_the_embedded_redis_needs_no_server(
    worker_env: dict[str, str], small_assets: Path, tmp_path: Path
) -> None:
    env = {**worker_env, 'REDIS_URL': ''}
    done = demo(env, '--name', 'Sofía', '--age', '6', '--message', 'Feliz Navidad')
    assert done.returncode == 0, done.stderr[-2000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.name.endswith('.mp4') and path.parent == Path(worker_env['OUTPUT_DIR']).resolve()
    order = parse_order({'child_name': 'Sofía', 'age': 6, 'message': 'Feliz Navidad', 'parent_email': 'p@example.com',
                         'consent': True})  # fmt: skip
    assert_output_spec(path, width=180, height=320, duration=expected_duration(order, small_assets, tmp_path))


def test_demo_with_redis_url_uses_a_real_worker_process(redis_conn: Redis, worker_env: dict[str, str]) -> None:
    done = demo(worker_env, '--name', 'Mateo', '--age', '10', '--language', 'en', '--order-id', 'demo-real')
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith('demo-real.mp4')
    assert redis_conn.hget('papanoel:video:demo-real', 'state') == b'completed'
    # The job ran in a separate RQ worker process that registered with the real server.
    assert redis_conn.hget('rq:job:demo-real', 'worker_name')


def test_demo_refuses_bad_input_with_field_errors(worker_env: dict[str, str]) -> None:
    done = demo({**worker_env, 'REDIS_URL': ''}, '--name', '', '--age', '0')
    assert done.returncode == 2
    assert 'error: child_name:' in done.stderr and 'error: age:' in done.stderr
