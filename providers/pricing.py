"""Estimated cost of each provider call, for the usage metrics.

List prices as published by the vendors in late 2026, rounded; plans and discounts vary,
so treat the figures as estimates for spotting trends (and runaway retries), not for
billing. Self-hosted and local providers cost nothing per call here: their GPU/CPU time
is paid for elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    per_call: float = 0.0
    per_1k_characters: float = 0.0
    per_second: float = 0.0

    def estimate(self, *, characters: int = 0, seconds: float = 0.0) -> float:
        return self.per_call + self.per_1k_characters * characters / 1000 + self.per_second * seconds


PRICES_USD: dict[str, Price] = {
    'elevenlabs': Price(per_1k_characters=0.30),  # multilingual v2, pay-as-you-go overage
    'synclabs': Price(per_second=0.05),  # lipsync-2, per second of output
    'heygen': Price(per_second=1.0 / 60),  # about one dollar per minute of avatar video
    'higgsfield': Price(per_call=0.25),  # one Speak generation (up to 15 s)
}


def estimate(provider: str, *, characters: int = 0, seconds: float = 0.0) -> float:
    return PRICES_USD.get(provider, Price()).estimate(characters=characters, seconds=seconds)
