"""Redis Sentinel: a real primary, a replica and three sentinels; a failover mid-run loses no order.

Every process is private to the test, on free loopback ports; the sentinels' configs live in
the test's tmp dir. The test waits on what it can see (order records, the master address the
sentinels report, replication state), never on a fixed sleep.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest
from redis import Redis
from redis.backoff import ConstantBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from metrics import Metrics
from orders import parse_order
from queueing.connection import SentinelTarget, connect
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from settings import Settings
from tests.conftest import _free_port
from tests.workers import ROOT, start_worker, stop, wait_for
from web.app import web_redis

QUEUE = 'papa-noel-videos'
MASTER = 'papanoel'
ORDERS = 3

SENTINEL_CONF = """port {port}
bind 127.0.0.1
daemonize no
dir {dir}
sentinel monitor {master} 127.0.0.1 {primary} 2
sentinel down-after-milliseconds {master} 1000
sentinel failover-timeout {master} 10000
sentinel parallel-syncs {master} 1
"""


@dataclass
class SentinelCluster:
    primary_port: int
    replica_port: int
    sentinel_ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sentinels(self) -> str:
        return ','.join(f'127.0.0.1:{port}' for port in self.sentinel_ports)

    def master_port(self) -> int | None:
        """The primary's port as the first sentinel reports it."""
        try:
            with Redis(port=self.sentinel_ports[0], socket_timeout=2) as sentinel:
                address = sentinel.execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)
        except Exception:
            return None
        return int(address[1]) if address else None


def _answers(port: int) -> bool:
    try:
        with Redis(port=port, socket_timeout=2) as client:
            return bool(client.ping())
    except Exception:
        return False


def _info(port: int, section: str) -> dict[str, object]:
    try:
        with Redis(port=port, socket_timeout=2) as client:
            return dict(client.info(section))
    except Exception:
        return {}


def _sentinel_ready(cluster: SentinelCluster, port: int) -> bool:
    """This sentinel knows the replica (in sync) and the two other sentinels: a failover can run."""
    try:
        with Redis(port=port, socket_timeout=2, decode_responses=True) as sentinel:
            replicas = sentinel.sentinel_slaves(MASTER)
            others = sentinel.sentinel_sentinels(MASTER)
    except Exception:
        return False
    in_sync = any(r['port'] == cluster.replica_port and r.get('master-link-status') == 'ok' for r in replicas)
    return in_sync and len(others) == 2


@pytest.fixture
def sentinel_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    binary = shutil.which('redis-server')
    if binary is None:
        pytest.skip('redis-server not installed')
    cluster = SentinelCluster(_free_port(), _free_port(), [_free_port() for _ in range(3)])
    common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    try:
        for name, port, extra in (
            ('primary', cluster.primary_port, []),
            ('replica', cluster.replica_port, ['--replicaof', '127.0.0.1', str(cluster.primary_port)]),
        ):
            workdir = tmp_path / name
            workdir.mkdir()
            cluster.procs.append(
                subprocess.Popen(
                    [binary, '--port', str(port), *common, '--dir', str(workdir), *extra], stdout=subprocess.DEVNULL
                )  # fmt: skip
            )
        wait_for(lambda: _answers(cluster.primary_port), 20, 0.05, 'the primary')
        wait_for(lambda: _info(cluster.replica_port, 'replication').get('master_link_status') == 'up', 20, 0.05,
                 'the replica to sync')  # fmt: skip
        for i, port in enumerate(cluster.sentinel_ports):
            workdir = tmp_path / f'sentinel{i}'
            workdir.mkdir()
            conf = workdir / 'sentinel.conf'  # a sentinel rewrites its config: one file each
            conf.write_text(SENTINEL_CONF.format(port=port, dir=workdir, master=MASTER, primary=cluster.primary_port))
            cluster.procs.append(subprocess.Popen([binary, str(conf), '--sentinel'], stdout=subprocess.DEVNULL))
        wait_for(lambda: all(_sentinel_ready(cluster, port) for port in cluster.sentinel_ports), 40, 0.1,
                 'the sentinels to see the replica and each other')  # fmt: skip
        yield cluster
    finally:
        for proc in cluster.procs:
            proc.terminate()
        for proc in cluster.procs:
            proc.wait(timeout=10)


def test_settings_name_the_sentinels_and_the_master() -> None:
    settings = Settings(redis_sentinels=' 127.0.0.1:26379, [::1]:26380 ', redis_sentinel_master='papanoel')
    target = SentinelTarget.parse(settings.redis_sentinels, settings.redis_sentinel_master)
    assert target == SentinelTarget((('127.0.0.1', 26379), ('::1', 26380)), 'papanoel')
    assert SentinelTarget.parse('', '') is None
    with pytest.raises(ValueError, match='REDIS_SENTINELS'):
        Settings(redis_sentinels='127.0.0.1', redis_sentinel_master='papanoel')
    with pytest.raises(ValueError, match='REDIS_SENTINEL_MASTER'):
        Settings(redis_sentinels='127.0.0.1:26379')


class Interrupted(BaseException):
    """What RQ's warm shutdown does: an exception raised by a signal handler mid-command."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def test_an_interrupted_blocking_read_leaves_no_stale_reply(sentinel_cluster: SentinelCluster) -> None:
    cluster = sentinel_cluster
    target = SentinelTarget.parse(cluster.sentinels, MASTER)
    conn = connect(f'redis://127.0.0.1:{cluster.primary_port}/0', sentinel=target)
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        assert conn.ping()
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            conn.blpop(['papanoel:test:nothing'], timeout=1)  # its nil reply comes after the interruption
        # The next command on the pooled connection reads its own reply, not the dequeue's.
        assert conn.echo('after') == b'after'
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        conn.close()


def test_an_open_connection_leaves_a_primary_demoted_while_still_up(sentinel_cluster: SentinelCluster) -> None:
    """SENTINEL FAILOVER leaves the old primary up and writable for a while: clients must not stay."""
    cluster = sentinel_cluster
    target = SentinelTarget.parse(cluster.sentinels, MASTER)
    conn = connect(f'redis://127.0.0.1:{cluster.primary_port}/0', outage_seconds=30, sentinel=target)
    new_primary = Redis(port=cluster.replica_port, socket_timeout=5)
    try:
        conn.set('probe', 'before')  # the pooled connection is open, to the first primary
        with Redis(port=cluster.sentinel_ports[0], socket_timeout=5) as sentinel:
            sentinel.execute_command('SENTINEL', 'FAILOVER', MASTER)
        wait_for(lambda: cluster.master_port() == cluster.replica_port, 30, 0.05, 'the sentinels to name the replica')
        writes = iter(range(1_000_000))

        def write_lands_on_new_primary() -> bool:
            value = str(next(writes))
            conn.set('probe', value)
            return new_primary.get('probe') == value.encode()

        # The connection checks the primary once a second; the sentinels demote the old one only
        # after tens of seconds: 10 s tells the two apart on a loaded machine.
        wait_for(write_lands_on_new_primary, 10, 0.05, 'a write to reach the new primary')
    finally:
        conn.close()
        new_primary.close()


def test_a_failover_during_a_run_loses_no_order(
    sentinel_cluster: SentinelCluster, worker_env: dict[str, str], tmp_path: Path
) -> None:
    cluster = sentinel_cluster
    # REDIS_URL names the first primary, as a deployment written before the failover would:
    # only the sentinels can tell a client where the primary is afterwards.
    redis_url = f'redis://127.0.0.1:{cluster.primary_port}/0'
    # The test watches through redis-py's own Sentinel client, apart from the code under test.
    watcher = Sentinel([('127.0.0.1', port) for port in cluster.sentinel_ports],  # type: ignore[no-untyped-call]
                       sentinel_kwargs={'socket_timeout': 2})  # fmt: skip
    conn: Redis = watcher.master_for(MASTER, socket_timeout=5, retry=Retry(ConstantBackoff(0.1), 600),  # type: ignore[no-untyped-call]
                                     retry_on_error=[RedisConnectionError, RedisTimeoutError])  # fmt: skip
    orders = [
        parse_order({'child_name': name, 'age': 6, 'parent_email': 'p@example.com', 'consent': True})
        for name in ('Sofía', 'Pablo', 'Lucía', 'Mateo')[:ORDERS]
    ]
    for o in orders:
        enqueue_order(conn, o, queue_name=QUEUE, job_timeout=600)
    env = {**worker_env, 'REDIS_URL': redis_url, 'REDIS_SENTINELS': cluster.sentinels,
           'REDIS_SENTINEL_MASTER': MASTER, 'REDIS_OUTAGE_SECONDS': '60'}  # fmt: skip
    worker = start_worker(env, log=tmp_path / 'worker.log')
    records = JobRecords(conn)

    def states() -> list[State | None]:
        return [(r.state if (r := records.get(o.video_id)) else None) for o in orders]

    try:
        # Mid-run: one order made, another in the making.
        wait_for(lambda: State.COMPLETED in (s := states()) and State.PROCESSING in s, 120, 0.05,
                 'one order completed and one processing')  # fmt: skip
        # The primary goes down (SHUTDOWN waits for the replica to catch up: nothing acknowledged
        # is lost with it); the sentinels see it down after 1 s and promote the replica.
        cluster.procs[0].terminate()
        cluster.procs[0].wait(timeout=30)
        wait_for(lambda: cluster.master_port() == cluster.replica_port, 60, 0.05, 'the sentinels to name the replica')
        wait_for(lambda: all(s is State.COMPLETED for s in states()), 120, 0.1, 'every order to complete')
        assert worker.poll() is None, 'the worker died in the failover'
        assert _info(cluster.replica_port, 'replication').get('role') == 'master'
        outputs = set()
        for o in orders:
            record = records.get(o.video_id)
            assert record is not None and Path(record.output).is_file()
            outputs.add(record.output)
        assert len(outputs) == ORDERS
        # Each order made once: one composition per order, counted on the new primary.
        assert Metrics(conn).stages()['compose']['count'] == ORDERS
        # A warm shutdown out of a blocking dequeue leaves no connection reading a stale reply.
        assert stop(worker) == 0
    finally:
        stop(worker)
        conn.close()


def test_cli_health_and_web_find_the_primary_through_the_sentinels(
    sentinel_cluster: SentinelCluster, worker_env: dict[str, str]
) -> None:
    cluster = sentinel_cluster
    # Nothing listens at REDIS_URL's host and port: only the sentinels lead to the primary.
    redis_url = f'redis://127.0.0.1:{_free_port()}/0'
    env = {**worker_env, 'REDIS_URL': redis_url, 'REDIS_SENTINELS': cluster.sentinels, 'REDIS_SENTINEL_MASTER': MASTER}
    with Redis(port=cluster.primary_port) as primary:
        primary.set('papanoel:test:marker', 'through the sentinels')
    stats = subprocess.run([sys.executable, 'cli.py', 'stats', '--json'], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    health = subprocess.run([sys.executable, 'health_check.py', '--json'], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    checks = {c['name']: c for c in json.loads(health.stdout)['checks']}
    assert checks['redis']['ok'], checks['redis']
    web = web_redis(redis_url, sentinel=SentinelTarget.parse(cluster.sentinels, MASTER))
    try:
        assert web.get('papanoel:test:marker') == b'through the sentinels'
    finally:
        web.close()
    # A wrong master name is one line naming the sentinels, exit 1, no traceback.
    wrong = subprocess.run([sys.executable, 'cli.py', 'stats'], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env={**env, 'REDIS_SENTINEL_MASTER': 'nosuchmaster'})  # fmt: skip
    assert wrong.returncode == 1 and 'Traceback' not in wrong.stderr
    assert wrong.stderr.startswith('error: cannot reach Redis at') and 'nosuchmaster' in wrong.stderr, wrong.stderr
