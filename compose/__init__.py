"""Composition: intro + Papá Noel's segment + outro into the finished MP4. A stage of its own."""

from compose.assets import DECODED_ASSETS, AssetError, AssetSet, load_assets
from compose.render import CompositionError, RenderMode, RenderOptions, compose_video
from compose.spec import RenderSpec
from compose.timeline import Timeline

__all__ = [
    'AssetError',
    'AssetSet',
    'CompositionError',
    'RenderMode',
    'RenderOptions',
    'RenderSpec',
    'Timeline',
    'compose_video',
    'load_assets',
    'DECODED_ASSETS',
]
