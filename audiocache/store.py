"""A content-addressed, size-bounded cache of synthesized speech on a (possibly shared) directory.

Key: sha256 of provider, voice, model, settings, language and text. Each entry is an audio
file plus a JSON sidecar with its checksum; the sidecar is written last, so an entry exists
only once complete. Writes go to a unique temp name and are renamed into place, so several
processes or machines sharing the directory never see half an entry. A hit refreshes the
entry's mtime; eviction removes the least recently used entries past the size limit. An
entry whose bytes no longer match its checksum is corrupt: it is deleted and reported a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import events
from providers.base import CharacterTiming, Speech
from traces import note_audio_cache

log = logging.getLogger(__name__)

_KEY = re.compile(r'^[0-9a-f]{64}$')


def cache_key(identity: dict[str, Any], text: str, language: str) -> str:
    payload = json.dumps({'identity': identity, 'text': text, 'language': language}, sort_keys=True)
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open('rb') as f:
        for block in iter(lambda: f.read(1024 * 1024), b''):
            digest.update(block)
    return digest.hexdigest()


class AudioCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f'{key}.audio', self.root / f'{key}.json'

    def get(self, key: str, workdir: Path) -> Speech | None:
        """A copy of the cached speech in `workdir`, or None (absent or corrupt)."""
        note_audio_cache(key)
        audio, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
            if audio.stat().st_size != meta['size'] or _sha256(audio) != meta['sha256']:
                raise ValueError('checksum mismatch')
            copy = workdir / f'speech-cached-{key[:12]}{meta["suffix"]}'
            shutil.copyfile(audio, copy)
            os.utime(audio)  # most recently used
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, OSError) as exc:
            log.warning(events.CACHE_CORRUPT, extra={'key': key, 'error': str(exc)})
            for path in (meta_path, audio):
                path.unlink(missing_ok=True)
            return None
        alignment = tuple(CharacterTiming(*item) for item in meta.get('alignment', []))
        return Speech(path=copy, duration=meta['duration'], provider=meta['provider'], alignment=alignment)

    def put(self, key: str, speech: Speech) -> None:
        note_audio_cache(key)
        audio, meta_path = self._paths(key)
        self.root.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        tmp_audio = audio.with_name(f'.{audio.name}.{token}.partial')
        tmp_meta = meta_path.with_name(f'.{meta_path.name}.{token}.partial')
        try:
            shutil.copyfile(speech.path, tmp_audio)
            meta = {
                'provider': speech.provider,
                'duration': speech.duration,
                'suffix': speech.path.suffix,
                'size': tmp_audio.stat().st_size,
                'sha256': _sha256(tmp_audio),
                'alignment': [[t.character, t.start, t.end] for t in speech.alignment],
            }
            tmp_meta.write_text(json.dumps(meta))
            os.replace(tmp_audio, audio)
            os.replace(tmp_meta, meta_path)
        finally:
            tmp_audio.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)
        self.evict()

    def entry_files(self, key: str) -> list[str]:
        return [str(p) for p in self._paths(key) if p.exists()] if _KEY.match(key) else []

    def delete(self, key: str) -> list[str]:
        """Remove one entry (sidecar first, as eviction does); return the files removed."""
        removed = self.entry_files(key)
        for path in sorted(removed, key=lambda p: not p.endswith('.json')):
            Path(path).unlink(missing_ok=True)
        return removed

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits; return how many went."""
        entries = sorted(self._entries(), key=lambda entry: entry[2])
        total = sum(size for _, size, _ in entries)
        removed = 0
        for key, size, _ in entries:
            if total <= self.max_bytes:
                break
            audio, meta_path = self._paths(key)
            meta_path.unlink(missing_ok=True)  # sidecar first: a reader then sees a miss, never a half entry
            audio.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def _entries(self) -> list[tuple[str, int, float]]:
        entries = []
        for audio in self.root.glob('*.audio'):
            try:
                stat = audio.stat()
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
            entries.append((audio.stem, stat.st_size, stat.st_mtime))
        return entries
