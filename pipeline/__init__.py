"""Producing one video: script → Santa segment (the fallback chain) → composition → storage."""

from pipeline.produce import Production, produce_video

__all__ = ['Production', 'produce_video']
