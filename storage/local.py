"""Videos as files in a local (or mounted) directory."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from storage.base import Storage, StorageError


class LocalStorage(Storage):
    name = 'local'

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, video_id: str) -> Path:
        return self.root / self.object_name(video_id)

    def location(self, video_id: str) -> str:
        return str(self.path(video_id).resolve())

    def exists(self, video_id: str) -> bool:
        return self.path(video_id).is_file()

    def save(self, video_id: str, source: Path) -> str:
        final = self.path(video_id)
        # Written beside the final name, then renamed: readers see the whole file or nothing.
        partial = final.with_name(f'.{final.name}.{uuid.uuid4().hex[:8]}.partial')
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with source.open('rb') as src, partial.open('wb') as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(partial, final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f'could not store {final}: {exc}') from exc
        return self.location(video_id)
