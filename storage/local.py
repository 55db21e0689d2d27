"""Videos as files in a local (or mounted) directory."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from storage.base import Storage, StorageError
from traces import note_media

_MEDIA_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,128}$')


class LocalStorage(Storage):
    name = 'local'

    def __init__(self, root: Path, public_base_url: str = '') -> None:
        self.root = root
        # Where a web server exposes `root` (e.g. https://media.example.com/videos); empty: not exposed.
        self.public_base_url = public_base_url.rstrip('/')

    def path(self, video_id: str) -> Path:
        return self.root / self.object_name(video_id)

    def location(self, video_id: str) -> str:
        return str(self.path(video_id).resolve())

    def exists(self, video_id: str) -> bool:
        return self.path(video_id).is_file()

    def save(self, video_id: str, source: Path) -> str:
        self._write(source, self.path(video_id))
        return self.location(video_id)

    def extra_path(self, video_id: str, name: str) -> Path:
        return self.root / self.extra_object_name(video_id, name)

    def save_extra(self, video_id: str, name: str, source: Path) -> str:
        path = self.extra_path(video_id, name)
        self._write(source, path)
        return str(path.resolve())

    def publish(self, source: Path, *, name: str, expires_seconds: int = 3600) -> str:
        """Copy into `<root>/media/` and return its URL under PUBLIC_MEDIA_BASE_URL. Local files never expire."""
        if not self.public_base_url:
            raise StorageError('local storage cannot publish media: set PUBLIC_MEDIA_BASE_URL or use STORAGE_TYPE=s3')
        if not _MEDIA_NAME.match(name):
            raise StorageError(f'invalid media name {name!r}')
        self._write(source, self.root / 'media' / name)
        note_media(name)
        return f'{self.public_base_url}/media/{name}'

    def video_files(self, video_id: str) -> list[str]:
        name = self.object_name(video_id)
        stem = name.removesuffix('.mp4')
        if not self.root.is_dir():
            return []
        # `<id>.<anything>` (a dot never appears in an id), and partial writes `.<id>.<...>.partial`.
        return sorted(str(p) for p in self.root.iterdir() if p.is_file() and
                      (p.name.startswith(f'{stem}.') or p.name.startswith(f'.{stem}.')))  # fmt: skip

    def delete_video(self, video_id: str) -> list[str]:
        removed = self.video_files(video_id)
        for path in removed:
            Path(path).unlink(missing_ok=True)
        return removed

    def media_files(self, names: list[str]) -> list[str]:
        paths = [self.root / 'media' / name for name in names if _MEDIA_NAME.match(name)]
        return [str(path) for path in paths if path.exists()]

    def delete_media(self, names: list[str]) -> list[str]:
        removed = self.media_files(names)
        for path in removed:
            Path(path).unlink(missing_ok=True)
        return removed

    def check_writable(self, probe_name: str) -> None:
        probe = self.root / f'.{probe_name}'
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b'ok')
            probe.unlink()
        except OSError as exc:
            raise StorageError(f'cannot write to {self.root}: {exc}') from exc

    def _write(self, source: Path, final: Path) -> None:
        # Written beside the final name, then renamed: readers see the whole file or nothing.
        partial = final.with_name(f'.{final.name}.{uuid.uuid4().hex[:8]}.partial')
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with source.open('rb') as src, partial.open('wb') as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(partial, final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f'could not store {final}: {exc}') from exc
