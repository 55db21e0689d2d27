"""The audio cache: hits, least-recently-used eviction, corruption, several writers."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from audiocache import AudioCache, cache_key
from providers.base import CharacterTiming, Speech
from providers.fake import FakeTTS


def speech(tmp_path: Path, seconds: float = 1.0) -> Speech:
    return FakeTTS(seconds=seconds).synthesize('x', 'es', tmp_path)


def test_key_depends_on_provider_voice_settings_text_and_language() -> None:
    base = cache_key({'provider': 'eleven', 'voice': 'V1', 'stability': 0.5}, 'Hola Sofía', 'es')
    assert base == cache_key({'stability': 0.5, 'voice': 'V1', 'provider': 'eleven'}, 'Hola Sofía', 'es')
    assert base != cache_key({'provider': 'eleven', 'voice': 'V2', 'stability': 0.5}, 'Hola Sofía', 'es')
    assert base != cache_key({'provider': 'eleven', 'voice': 'V1', 'stability': 0.6}, 'Hola Sofía', 'es')
    assert base != cache_key({'provider': 'eleven', 'voice': 'V1', 'stability': 0.5}, 'Hola Sofia', 'es')
    assert base != cache_key({'provider': 'eleven', 'voice': 'V1', 'stability': 0.5}, 'Hola Sofía', 'en')


def test_hit_returns_the_same_audio_and_timings(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / 'cache', max_bytes=10**9)
    original = speech(tmp_path)
    original = Speech(original.path, original.duration, original.provider, (CharacterTiming('H', 0.0, 0.1),))
    cache.put('k1', original)
    work = tmp_path / 'work'
    work.mkdir()
    hit = cache.get('k1', work)
    assert hit is not None and hit.path.parent == work
    assert hit.path.read_bytes() == original.path.read_bytes()
    assert (hit.duration, hit.provider, hit.alignment) == (original.duration, original.provider, original.alignment)
    assert cache.get('other', work) is None


def test_least_recently_used_entries_are_evicted_past_the_size_limit(tmp_path: Path) -> None:
    one = speech(tmp_path)
    size = one.path.stat().st_size
    cache = AudioCache(tmp_path / 'cache', max_bytes=int(size * 2.5))
    cache.put('a', one)
    cache.put('b', one)
    old = time.time() - 100
    os.utime(cache.root / 'a.audio', (old, old))
    os.utime(cache.root / 'b.audio', (old + 10, old + 10))
    assert cache.get('a', tmp_path) is not None  # 'a' is now the most recently used
    cache.put('c', one)
    assert cache.get('b', tmp_path) is None  # least recently used: evicted
    assert cache.get('a', tmp_path) is not None and cache.get('c', tmp_path) is not None
    assert cache.size_bytes() <= cache.max_bytes


def test_a_corrupt_entry_is_detected_removed_and_replaced(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / 'cache', max_bytes=10**9)
    cache.put('k', speech(tmp_path))
    audio = cache.root / 'k.audio'
    data = bytearray(audio.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    audio.write_bytes(bytes(data))
    assert cache.get('k', tmp_path) is None
    assert not audio.exists() and not (cache.root / 'k.json').exists()
    cache.put('k', speech(tmp_path))
    assert cache.get('k', tmp_path) is not None


def test_a_truncated_entry_is_a_miss(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / 'cache', max_bytes=10**9)
    cache.put('k', speech(tmp_path))
    audio = cache.root / 'k.audio'
    audio.write_bytes(audio.read_bytes()[:100])
    assert cache.get('k', tmp_path) is None


def _writer(root: str, source: str, duration: float, rounds: int) -> None:
    cache = AudioCache(Path(root), max_bytes=10**9)
    for i in range(rounds):
        cache.put(f'shared-{i % 3}', Speech(Path(source), duration, 'fake'))


def test_several_processes_writing_the_same_keys_never_leave_a_broken_entry(tmp_path: Path) -> None:
    original = speech(tmp_path, seconds=2.0)
    root = tmp_path / 'cache'
    ctx = multiprocessing.get_context('fork')
    procs = [ctx.Process(target=_writer, args=(str(root), str(original.path), original.duration, 30)) for _ in range(4)]
    for p in procs:
        p.start()
    cache = AudioCache(root, max_bytes=10**9)
    misses = 0
    while any(p.is_alive() for p in procs):
        for key in ('shared-0', 'shared-1', 'shared-2'):
            hit = cache.get(key, tmp_path)
            if hit is None:
                misses += 1
            else:
                assert hit.path.read_bytes() == original.path.read_bytes()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    expected = [f'shared-{i}.{ext}' for i in range(3) for ext in ('audio', 'json')]
    assert sorted(p.name for p in root.iterdir()) == expected
