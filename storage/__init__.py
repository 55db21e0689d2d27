"""Where finished videos live: a small interface and its backends."""

from storage.base import Storage, StorageError
from storage.local import LocalStorage

__all__ = ['LocalStorage', 'Storage', 'StorageError']
