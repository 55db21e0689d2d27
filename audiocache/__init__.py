"""Audio cache: speech already paid for is never synthesized (or paid for) again."""

from audiocache.store import AudioCache, cache_key

__all__ = ['AudioCache', 'cache_key']
