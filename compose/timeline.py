"""Where each part of the final video starts and ends. Pure arithmetic, shared by renderers.

    intro  |==========|
    santa          |~~~~~~~~ speech ~~~~~~~~|        (starts one overlap before the intro ends)
    outro                               |=========|  (starts one overlap before Santa ends)

total = intro + speech + outro - intro_overlap - outro_overlap. The Santa segment lasts
exactly as long as the speech, and the speech is mixed at full level across both
crossfades, so not a syllable is faded away.
"""

from __future__ import annotations

from dataclasses import dataclass

from compose.assets import AssetSet
from compose.spec import RenderSpec


@dataclass(frozen=True)
class Timeline:
    intro: float
    speech: float
    outro: float
    intro_overlap: float
    outro_overlap: float

    def __post_init__(self) -> None:
        if self.speech <= 0:
            raise ValueError('speech must have a positive duration')
        if self.intro <= self.intro_overlap or self.outro <= self.outro_overlap:
            raise ValueError('intro and outro must each last longer than their crossfade overlap')
        if self.speech <= self.intro_overlap + self.outro_overlap:
            raise ValueError('speech must last longer than both crossfade overlaps together')

    @property
    def santa_start(self) -> float:
        return self.intro - self.intro_overlap

    @property
    def outro_start(self) -> float:
        return self.santa_start + self.speech - self.outro_overlap

    @property
    def total(self) -> float:
        return self.outro_start + self.outro


def order_timeline(assets: AssetSet, speech_seconds: float, spec: RenderSpec) -> Timeline:
    """The timeline of an order whose speech lasts `speech_seconds`, on these assets, with the spec's crossfades."""
    return Timeline(intro=assets.intro.duration, speech=speech_seconds, outro=assets.outro.duration,
                    intro_overlap=spec.intro_overlap, outro_overlap=spec.outro_overlap)  # fmt: skip
