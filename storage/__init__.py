"""Where finished videos live: a small interface and its backends."""

from storage.base import Storage, StorageError
from storage.factory import build_storage
from storage.local import LocalStorage

__all__ = ['LocalStorage', 'Storage', 'StorageError', 'build_storage']
