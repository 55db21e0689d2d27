"""Chaos benchmark: N orders through real workers, real clients and charging fake vendors, with
faults before and after paid calls, SIGKILLed workers and horses, and Redis restarted mid-run.

    python bench/chaos.py                 # 200 orders
    python bench/chaos.py --orders 20     # a quick proof that it works

What it does:
- a private `redis-server` with AOF (`appendonly yes`, `appendfsync everysec`) on a free port,
  stopped and started again `--redis-restarts` times while orders are in flight (`--redis-crash`:
  SIGKILL instead of a clean stop, so up to a second of writes may be lost);
- local fake vendors (tests/fake_vendors_*.py) that speak ElevenLabs, Sync Labs and HeyGen and
  keep a charge ledger; at `--loss-rate` a charged create is billed and its answer then lost (504);
- `--paid-workers` workers use the real ElevenLabs/Sync Labs/HeyGen clients against the fakes
  (strategy 1, falling back to 2, then 3), the others espeak-ng and free local stand-ins; every
  provider call may fail before it is made (`--fault-rate`), from an RNG seeded in each process
  (bench/chaos_providers.py), so forked work horses draw their own faults;
- every `--kill-every` seconds a worker (horse included) or only a work horse is SIGKILLed.

What it counts, from evidence the code under test does not keep:
- paid calls: the fakes' ledgers. Each order's speech is a pure tone whose pitch encodes the
  order (the ElevenLabs fake picks it from a marker in the message), so a charge is attributed
  to a video by decoding the audio it was sent. paid_twice = videos (or, for speech that cannot
  be attributed, request bodies) with more than one charge of one kind;
- storage writes: an inotify watch on the output directory sees every file renamed or written
  to `<video id>.mp4`; produced_twice = videos written more than once;
- final state: each order's record against its file probed with ffprobe; lost = orders neither
  completed with a valid video nor in the dead-letter queue (a missing record counts as lost,
  it does not crash the count).

Last line: orders=N completed=C dlq=D lost=L produced_twice=P paid_twice=Q redis_restarts=R kills=K
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import json
import logging
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_httpserver import HTTPServer  # noqa: E402
from redis import Redis  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402
from werkzeug import Request, Response  # noqa: E402

from compose.placeholders import render_placeholders  # noqa: E402
from deadletter import DeadLetterQueue  # noqa: E402
from orders import parse_order  # noqa: E402
from queueing.enqueue import enqueue_order  # noqa: E402
from records import JobRecords, State  # noqa: E402
from retries import job_retry  # noqa: E402
from tests.fake_vendor_charges import ChargeLedger  # noqa: E402
from tests.fake_vendors_tts_lipsync import FakeElevenLabs, FakeSyncLabs  # noqa: E402
from tests.fake_vendors_video import FakeHeyGen  # noqa: E402
from tests.servers import static_files  # noqa: E402

NAMES = ['Sofía', 'Mateo', 'Lucía', 'Martín', 'Valentina', 'Hugo', 'Martina', 'Leo', 'Julia', 'Pablo', 'Emma', 'Álex']
# The marker "un <toy> <colour>" in each message names the order (20 x 20 = 400 markers).
TOYS = ['tren', 'barco', 'coche', 'robot', 'libro', 'balón', 'camión', 'avión', 'tambor', 'piano', 'cohete',
        'dinosaurio', 'oso', 'caballo', 'patín', 'globo', 'reloj', 'puzle', 'trompo', 'castillo']  # fmt: skip
COLOURS = ['rojo', 'azul', 'verde', 'amarillo', 'blanco', 'negro', 'morado', 'naranja', 'gris', 'dorado',
           'plateado', 'rosa', 'marrón', 'violeta', 'turquesa', 'celeste', 'granate', 'lila', 'ocre',
           'añil']  # fmt: skip
MARKERS = len(TOYS) * len(COLOURS)
TONE_BASE_HZ, TONE_STEP_HZ = 150.0, 8.0  # order i speaks at 150 + 8 i Hz (< 3350 Hz, under 4 kHz Nyquist)
SPEECH_SECONDS = 2.5
QUEUE = 'papa-noel-videos'


def marker(i: int) -> str:
    return f'un {TOYS[i % len(TOYS)]} {COLOURS[(i // len(TOYS)) % len(COLOURS)]}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            if int(stat.read_text().rsplit(')', 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    for pid in [proc.pid, *children(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


# --- attributing speech to an order: a tone's pitch, counted by zero crossings ---


def tone_index(path: Path) -> int | None:
    """Which order's tone `path` holds (None: not one of ours, e.g. espeak-ng speech)."""
    try:
        raw = subprocess.run(
            ['ffmpeg', '-v', 'error', '-i', str(path), '-ac', '1', '-ar', '8000', '-f', 's16le', '-'],
            capture_output=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    samples = array('h')
    samples.frombytes(raw[: len(raw) - len(raw) % 2])
    # Ours last SPEECH_SECONDS; speech of another length (espeak-ng's) is not ours, whatever its pitch.
    if abs(len(samples) / 8000 - SPEECH_SECONDS) > 0.15:
        return None
    quarter = len(samples) // 4
    estimates = [_pitch(samples[start : start + quarter]) for start in (quarter, 2 * quarter)]  # away from the ends
    index = round((estimates[0] - TONE_BASE_HZ) / TONE_STEP_HZ)
    expected = TONE_BASE_HZ + index * TONE_STEP_HZ
    if 0 <= index < MARKERS and all(abs(hz - expected) < TONE_STEP_HZ / 3 for hz in estimates):
        return index  # a steady tone, on one of the orders' pitches
    return None


def _pitch(samples: array[int]) -> float:
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 8000)


@functools.cache
def tone_mp3(index: int) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'tone.mp3'
        hz = TONE_BASE_HZ + index * TONE_STEP_HZ
        subprocess.run(['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', f'sine=f={hz}:r=44100:d={SPEECH_SECONDS}',
                        str(out)], check=True, timeout=60)  # fmt: skip
        return out.read_bytes()


class MarkedElevenLabs(FakeElevenLabs):
    """The ElevenLabs fake, answering each order's script with that order's tone."""

    def __init__(self, server: HTTPServer, files: Path, orders: int) -> None:
        super().__init__(server, files, seconds=SPEECH_SECONDS)
        self.orders = orders
        self._tts_lock = threading.Lock()

    def _tts(self, request: Request) -> Response:
        try:
            text = str(json.loads(request.get_data(as_text=True)).get('text', '')).lower()
        except (ValueError, AttributeError):
            text = ''
        index = next((i for i in range(self.orders) if marker(i) in text), None)
        with self._tts_lock:  # self.audio is what the parent answers with
            self.audio = tone_mp3(index) if index is not None else tone_mp3(MARKERS - 1)
            return super()._tts(request)


@dataclass
class ChaosLedger(ChargeLedger):
    """A charge ledger that loses an answer at random, and notes which order each charge was for."""

    loss_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    attribute: Callable[[Any], int | None] = lambda body: None
    kind_of: Callable[[Any], str] = lambda body: ''
    attributed: list[tuple[str, int | None, str]] = field(default_factory=list)

    def charge(self, key: str | None, body: Any, generation_id: str) -> None:
        super().charge(key, body, generation_id)
        index = self.attribute(body)
        with self._lock:
            self.attributed.append((self.kind_of(body), index, self.charges[-1].body_digest))

    def lose_this_answer(self) -> bool:
        if super().lose_this_answer():
            return True
        with self._lock:
            if self.rng.random() < self.loss_rate:
                self.answers_lost += 1
                return True
        return False


# --- storage writes, seen by the kernel ---

IN_CLOSE_WRITE, IN_MOVED_TO = 0x08, 0x80


class WriteWatch:
    """Counts files written or renamed into `directory` (inotify), by name."""

    def __init__(self, directory: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_CLOEXEC)
        watched = self.libc.inotify_add_watch(self.fd, str(directory).encode(), IN_CLOSE_WRITE | IN_MOVED_TO)
        if self.fd < 0 or watched < 0:
            raise OSError(ctypes.get_errno(), f'inotify on {directory}')
        self.writes: Counter[str] = Counter()
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except OSError:
                return
            offset = 0
            while offset + 16 <= len(data):
                _wd, mask, _cookie, length = struct.unpack_from('iIII', data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b'\0').decode(errors='replace')
                offset += 16 + length
                if mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                    with self.lock:
                        self.writes[name] += 1

    def count(self, name: str) -> int:
        with self.lock:
            return self.writes[name]


def valid_video(path: Path) -> bool:
    """ffprobe finds a video stream and a positive duration (the bench's own probe, not the code's)."""
    if not path.is_file():
        return False
    try:
        out = subprocess.run(
            ['ffprobe', '-v', 'error', '-show_entries', 'format=duration:stream=codec_type', '-of', 'json', str(path)],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        info = json.loads(out)
        return float(info['format']['duration']) > 0 and any(s['codec_type'] == 'video' for s in info['streams'])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return False


class PrivateRedis:
    """redis-server with AOF every second, on a port of its own; can be stopped and started again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f'redis://127.0.0.1:{self.port}/0'
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
             '--appendfsync', 'everysec', '--dir', str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        conn = Redis.from_url(self.url)
        deadline = time.monotonic() + 60
        while True:
            try:
                if conn.ping() and conn.info('persistence').get('loading') == 0:
                    break
            except RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError('redis-server did not start')
            time.sleep(0.05)
        conn.close()

    def stop(self, *, crash: bool) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL if crash else signal.SIGTERM)  # SIGTERM: AOF flushed, then exit
        self.proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--orders', type=int, default=200)
    parser.add_argument('--workers', type=int, default=3)
    parser.add_argument('--paid-workers', type=int, default=2, help='workers using the paid vendors (fakes)')
    parser.add_argument('--kill-every', type=float, default=10.0, help='seconds between SIGKILLs')
    parser.add_argument('--fault-rate', type=float, default=0.2, help='chance a provider call fails before it is made')
    parser.add_argument('--loss-rate', type=float, default=0.2, help='chance a charged create loses its answer')
    parser.add_argument('--redis-restarts', type=int, default=2)
    parser.add_argument('--redis-crash', action='store_true', help='SIGKILL Redis instead of stopping it')
    parser.add_argument('--time-limit', type=float, default=3600)
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    args = parser.parse_args()
    if args.orders > MARKERS:
        parser.error(f'--orders: at most {MARKERS} (each order needs a tone of its own)')
    rng = random.Random(args.seed)
    logging.getLogger('werkzeug').setLevel(logging.ERROR)  # the fakes' request lines

    work = Path(tempfile.mkdtemp(prefix='chaos-'))
    (work / 'redis').mkdir()
    redis = PrivateRedis(work / 'redis')
    conn = Redis.from_url(redis.url, socket_timeout=5, socket_connect_timeout=5)
    render_placeholders(work / 'assets', width=180, height=320)
    output = work / 'output'
    output.mkdir()
    watch = WriteWatch(output)

    vendor = HTTPServer(host='127.0.0.1', threaded=True)
    vendor.start()
    tts_host = HTTPServer(host='127.0.0.1', threaded=True)
    tts_host.start()
    eleven = MarkedElevenLabs(tts_host, work / 'eleven', args.orders)
    sync = FakeSyncLabs(vendor, work / 'sync')
    heygen = FakeHeyGen(vendor, work / 'heygen')

    def from_published(url: str) -> int | None:  # a Sync Labs input URL -> the file we serve under it
        return tone_index(output / 'media' / url.rsplit('/', 1)[-1])

    def sync_body(body: Any) -> int | None:
        urls = {item.get('type'): item.get('url', '') for item in body.get('input', [])}
        return from_published(urls.get('audio', ''))

    def heygen_body(body: Any) -> int | None:
        asset = heygen.assets.get(str(body.get('audio_asset_id')))
        if asset is not None:
            return tone_index(asset)
        audio = body.get('audio') or {}
        return from_published(str(audio.get('url', ''))) if isinstance(audio, dict) else None

    sync.ledger = ChaosLedger(loss_rate=args.loss_rate, rng=random.Random(rng.random()), attribute=sync_body)
    heygen.ledger = ChaosLedger(
        loss_rate=args.loss_rate,
        rng=random.Random(rng.random()),
        attribute=heygen_body,
        kind_of=lambda body: 'heygen-lipsync' if 'video' in body else 'heygen-video',  # one ledger, two products
    )

    public = static_files(output)
    public_url = public.__enter__()
    common = {
        **os.environ,
        'REDIS_URL': redis.url,
        'ASSETS_DIR': str(work / 'assets'),
        'OUTPUT_DIR': str(output),
        'TEMP_DIR': str(work / 'tmp'),
        'AUDIO_CACHE_DIR': str(work / 'cache'),
        'TEMPLATE_CACHE_DIR': str(work / 'templates'),
        'OUTPUT_WIDTH': '180',
        'OUTPUT_HEIGHT': '320',
        'X264_PRESET': 'ultrafast',
        'CHAOS_FAULT_RATE': str(args.fault_rate),
        'CHAOS_SEED': str(args.seed if args.seed is not None else ''),
        'PROVIDER_RETRY_BASE_SECONDS': '0.2',
        'PROVIDER_RETRY_MAX_WAIT_SECONDS': '1',
        'PROVIDER_POLL_FIRST_DELAY_SECONDS': '0.2',
        'PROVIDER_POLL_MAX_DELAY_SECONDS': '0.5',
        'MAINTENANCE_INTERVAL_SECONDS': '2',
        'JOB_MONITORING_INTERVAL_SECONDS': '2',
        'LOCK_HEARTBEAT_SECONDS': '2',
        'LOG_LEVEL': 'WARNING',
    }
    paid_env = {
        **common,
        'PROVIDER_FACTORY': 'bench.chaos_providers:faulted_real_providers',
        'ELEVENLABS_API_KEY': eleven.api_key,
        'PAPA_NOEL_VOICE_ID': 'santa-voice',
        'ELEVENLABS_BASE_URL': eleven.base_url,
        'SYNCLABS_API_KEY': sync.api_key,
        'SYNCLABS_BASE_URL': sync.base_url,
        'HEYGEN_API_KEY': heygen.api_key,
        'HEYGEN_TALKING_PHOTO_ID': 'santa-photo',
        'HEYGEN_BASE_URL': heygen.url(),
        'PUBLIC_MEDIA_BASE_URL': public_url,
    }
    free_env = {**common, 'PROVIDER_FACTORY': 'bench.chaos_providers:configured_providers'}

    video_ids = []
    for i in range(args.orders):
        fields = {'child_name': NAMES[i % len(NAMES)], 'age': 1 + i % 17, 'language': 'es' if i % 3 else 'en',
                  'message': f'Te traigo {marker(i)}',
                  'parent_email': f'p{i}@example.com', 'consent': True}  # fmt: skip
        order = parse_order(fields)
        enqueue_order(conn, order, queue_name=QUEUE, job_timeout=600, retry=job_retry(3, [1, 2]))
        video_ids.append(order.video_id)

    logs = work / 'logs'
    logs.mkdir()

    def start(slot: int) -> subprocess.Popen[bytes]:
        env = paid_env if slot < args.paid_workers else free_env
        with (logs / f'worker-{slot}-{time.monotonic_ns()}.log').open('ab') as out:
            return subprocess.Popen([sys.executable, 'worker.py'], cwd=ROOT, env=env, stdout=out, stderr=out)

    records = JobRecords(conn)
    dead = DeadLetterQueue(conn)
    workers = [start(slot) for slot in range(args.workers)]
    kills = horse_kills = redis_restarts = 0
    started = time.monotonic()
    next_kill = started + args.kill_every
    next_report = started
    completed = dead_count = 0

    def settled() -> tuple[int, int]:
        done = 0
        for v in video_ids:
            record = records.get(v)
            done += record is not None and record.state is State.COMPLETED
        return done, dead.count()

    try:
        while time.monotonic() - started < args.time_limit:
            try:
                completed, dead_count = settled()
            except RedisError:
                time.sleep(0.5)
                continue
            if time.monotonic() >= next_report:
                print(f'{time.monotonic() - started:6.0f} s  completed={completed} dlq={dead_count} kills={kills} '
                      f'redis_restarts={redis_restarts}', file=sys.stderr, flush=True)  # fmt: skip
                next_report += 15
            if completed + dead_count >= args.orders:
                break
            # Restarts spread over the run: the k-th once k/(R+1) of the orders have settled.
            if redis_restarts < args.redis_restarts and completed + dead_count >= args.orders * (redis_restarts + 1) / (
                args.redis_restarts + 1
            ):
                redis.stop(crash=args.redis_crash)
                time.sleep(2)  # an outage the workers have to ride out
                redis.start()
                redis_restarts += 1
                print(f'redis restarted ({redis_restarts})', file=sys.stderr, flush=True)
            if time.monotonic() >= next_kill:
                victim = rng.randrange(len(workers))
                horses = children(workers[victim].pid)
                if horses and rng.random() < 0.4:
                    for pid in horses:  # only the work horse (and whatever it runs)
                        for victim_pid in [*children(pid), pid]:
                            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                                os.kill(victim_pid, signal.SIGKILL)
                    horse_kills += 1
                else:
                    kill_hard(workers[victim])
                    workers[victim] = start(victim)
                kills += 1
                next_kill = time.monotonic() + args.kill_every
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill_hard(w)

    # --- the count: independent evidence, and no record is trusted to exist ---
    completed = dead_count = lost = 0
    lost_ids: list[str] = []
    completed_without_file = 0
    for v in video_ids:
        try:
            record = records.get(v)
        except Exception:  # an unreadable record is counted, not fatal
            record = None
        in_dlq = dead.contains(v)
        good = valid_video(output / f'{v}.mp4')
        if record is not None and record.state is State.COMPLETED and good:
            completed += 1
        elif in_dlq:
            dead_count += 1
        else:
            lost += 1
            lost_ids.append(v)
        completed_without_file += record is not None and record.state is State.COMPLETED and not good
    produced_twice = sum(1 for v in video_ids if watch.count(f'{v}.mp4') > 1)
    written_once = sum(1 for v in video_ids if watch.count(f'{v}.mp4') == 1)

    paid_twice_groups: set[str] = set()
    unattributed = 0
    ledgers = {'synclabs-lipsync': sync.ledger, 'heygen': heygen.ledger}
    for name, ledger in ledgers.items():
        assert isinstance(ledger, ChaosLedger)
        groups: Counter[str] = Counter()
        for what, index, digest in ledger.attributed:
            kind = what or name
            if index is None:
                unattributed += 1
            groups[f'{kind}:order-{index}' if index is not None else f'{kind}:body-{digest}'] += 1
        paid_twice_groups.update(g for g, n in groups.items() if n > 1)
    paid_twice = len({g.split(':', 1)[1] for g in paid_twice_groups})

    reasons: Counter[str] = Counter()
    for v in video_ids:
        entry = dead.get_or_none(v)
        if entry is not None:
            errors = [f'{e.get("error_type", "?")}: {str(e.get("message", ""))[:70]}' for e in entry.errors]
            reasons[' | '.join(errors)] += 1

    elapsed = time.monotonic() - started
    print(f'elapsed={elapsed:.0f}s workers={args.workers} paid_workers={args.paid_workers} kills={kills} '
          f'(horse only: {horse_kills}) fault_rate={args.fault_rate} loss_rate={args.loss_rate} '
          f'redis_crash={args.redis_crash}')  # fmt: skip
    for kind, ledger in ledgers.items():
        print(f'ledger {kind}: charged={ledger.charged_calls()} answers_lost={ledger.answers_lost}')
    print(
        f'paid charges not attributable to an order (espeak-ng speech): {unattributed}; '
        f'videos written once={written_once}; completed records without a valid file={completed_without_file}'
    )
    for reason, n in reasons.most_common():
        print(f'dlq x{n}: {reason}')
    for v in lost_ids:
        print(f'lost: {v}')
    for group in sorted(paid_twice_groups):
        print(f'paid twice: {group}')
    print(
        f'orders={args.orders} completed={completed} dlq={dead_count} lost={lost} produced_twice={produced_twice} '
        f'paid_twice={paid_twice} redis_restarts={redis_restarts} kills={kills}'
    )
    conn.close()
    public.__exit__(None, None, None)
    vendor.stop()
    tts_host.stop()
    redis.stop(crash=False)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f'work directory kept: {work}', file=sys.stderr)
    return 0 if lost == 0 and produced_twice == 0 and paid_twice == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
