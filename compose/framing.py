"""How each asset role fills the output frame: fitted and padded (black bars), or scaled to
fill and cropped, centred either way. Shared by both renderers, so they make the same frames.

Which roles are cropped is `RenderSpec.cropped_roles`, set per format from
`papa_noel_config.FORMAT_CROPPED_ROLES` (e.g. Santa filling a square frame, the intro and the
outro, with their titles, kept whole).
"""

from __future__ import annotations

from typing import Any

from compose.spec import RenderSpec


def framed(stream: Any, spec: RenderSpec, role: str) -> Any:
    """`stream` scaled into spec's frame: cropped to fill it for a cropped role, else padded."""
    if role in spec.cropped_roles:
        return stream.filter(
            'scale', spec.width, spec.height, flags='lanczos', force_original_aspect_ratio='increase'
        ).filter('crop', spec.width, spec.height, '(iw-ow)/2', '(ih-oh)/2')
    return stream.filter(
        'scale', spec.width, spec.height, flags='lanczos', force_original_aspect_ratio='decrease'
    ).filter('pad', spec.width, spec.height, '(ow-iw)/2', '(oh-ih)/2', color='black')
