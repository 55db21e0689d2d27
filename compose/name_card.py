"""The name on screen: the child's name, as typed, drawn over the intro's last second.

Both renderers draw it with this one drawtext. The single-pass graph draws it on the intro's
frames from the card's first frame, before the intro→Santa crossfade, so it fades out with
the intro. The template renderer draws it on the template's stored frames of that span only
(the card's frames as shown, then the crossfade's, where drawtext's alpha fades it out as
the crossfade would), and stream-copies every other frame (compose.templates cuts the intro
there). Drawn after the crossfade rather than before it, the name's antialiased edges mix
with the blended picture instead of the intro's: a difference of a few levels on those
edge pixels, for a tenth of the work (no crossfade, no pixel-format round trip per order).

The name is read from a file (textfile=) with expansion=none: an apostrophe, a colon, a
backslash or a '%{...}' in a name is drawn as written, never parsed by the filter graph or
expanded by drawtext.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import papa_noel_config as persona
from compose.frame_plan import frames
from compose.spec import RenderSpec


@dataclass(frozen=True)
class NameCard:
    """A name to draw, and the file that holds it (UTF-8, no trailing newline) for drawtext."""

    text: str
    textfile: Path


def card_start(intro_frames: int, santa_start: int, fps: int) -> int:
    """The intro frame the card starts on: NAME_CARD_SECONDS before the intro ends.

    Never after the intro→Santa crossfade starts (a crossfade longer than the card: the card
    covers it whole), never before the intro's first frame.
    """
    return max(0, min(intro_frames - frames(persona.NAME_CARD_SECONDS, fps), santa_start))


@contextmanager
def name_card_file(text: str, directory: Path) -> Iterator[NameCard]:
    """A NameCard for `text`, its file removed afterwards."""
    with tempfile.TemporaryDirectory(prefix='.name-card-', dir=directory) as tmp:
        path = Path(tmp) / 'name.txt'
        # Line breaks would draw as lines: a name is one line.
        line = ' '.join(text.split())
        path.write_text(line, encoding='utf-8')
        yield NameCard(line, path)


def font_size(text: str, spec: RenderSpec) -> int:
    """NAME_CARD_FONT_SIZE of the frame's height, smaller for a name too long to fit its width.

    drawtext can't size the font from the text's width, so the width is estimated from an
    average glyph (NAME_CARD_GLYPH_WIDTH em), generous for DejaVu Sans Bold.
    """
    by_height = spec.height * persona.NAME_CARD_FONT_SIZE
    by_width = spec.width * persona.NAME_CARD_MAX_WIDTH / (persona.NAME_CARD_GLYPH_WIDTH * max(len(text), 1))
    return max(1, round(min(by_height, by_width)))


def drawn(stream: Any, card: NameCard, spec: RenderSpec, *, from_frame: int = 0,
          fade_from: int | None = None) -> Any:  # fmt: skip
    """`stream` with the name drawn on its frames from `from_frame` on.

    With `fade_from`, the stream's frames from there on are the intro→Santa crossfade itself,
    and the name fades out over them as it would under that crossfade: on its k-th frame
    xfade keeps 1 - k/(crossfade frames) of the intro (vf_xfade.c's `progress`), and so of
    the name drawn on it.
    """
    options: dict[str, Any] = {}
    if from_frame:
        options['enable'] = f'gte(n,{from_frame})'
    if fade_from is not None:
        fade_frames = spec.intro_overlap * spec.fps
        options['alpha'] = f'if(lt(n,{fade_from}),1,max(0,1-(n-{fade_from})/{fade_frames:.6f}))'
    return stream.filter(
        'drawtext',
        fontfile=persona.NAME_CARD_FONT_FILE,
        textfile=str(card.textfile),
        expansion='none',
        fontsize=font_size(card.text, spec),
        fontcolor=persona.NAME_CARD_COLOR,
        borderw=max(1, round(spec.height * persona.NAME_CARD_BORDER_WIDTH)),
        bordercolor=persona.NAME_CARD_BORDER_COLOR,
        x=persona.NAME_CARD_X,
        y=persona.NAME_CARD_Y,
        **options,
    )
