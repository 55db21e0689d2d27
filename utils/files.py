"""Files other processes read while this one writes them."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def copy_into_place(source: Path, dest: Path) -> None:
    """Copy `source` to `dest` so that a reader sees the whole file or none: copied beside it,
    then renamed. Writers racing with the same content are harmless (the last rename wins).
    Raises OSError; nothing partial is left behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f'.{dest.name}-{uuid.uuid4().hex}')
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
