"""The fallback policy, readable as a list, and the rule that walks it.

Contract of `run_chain`: strategies are tried in the order given. A strategy that raises
`StrategyUnavailable` is skipped; one that raises a `ProviderError` has failed; both are
recorded and the next strategy is tried. The first strategy to return a segment wins.
If none does, `ChainExhausted` carries every attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import events
from chain.strategies import (
    Attempt,
    ChainContext,
    LipSyncStrategy,
    SantaSegment,
    Strategy,
    StrategyUnavailable,
    TalkingVideoStrategy,
    VoiceOverStrategy,
)
from providers.errors import ProviderError

log = logging.getLogger(__name__)

DEFAULT_CHAIN: tuple[Strategy, ...] = (
    LipSyncStrategy(),  # 1) TTS + lip-sync of the base Santa footage
    TalkingVideoStrategy(),  # 2) a full talking-video provider
    VoiceOverStrategy(),  # 3) TTS over the base footage, no lip-sync
)


@dataclass(frozen=True)
class ChainOutcome:
    strategy: str
    segment: SantaSegment
    attempts: tuple[Attempt, ...]


class ChainExhausted(Exception):
    def __init__(self, attempts: Sequence[Attempt], last_error: ProviderError | None) -> None:
        self.attempts = tuple(attempts)
        self.last_error = last_error
        summary = '; '.join(f'{a.strategy}: {a.outcome} ({a.reason})' for a in attempts if a.outcome != 'succeeded')
        super().__init__(f'every strategy failed: {summary}')


def run_chain(ctx: ChainContext, chain: Sequence[Strategy] = DEFAULT_CHAIN) -> ChainOutcome:
    last_error: ProviderError | None = None
    for strategy in chain:
        try:
            segment = strategy.produce(ctx)
        except StrategyUnavailable as exc:
            ctx.attempts.append(Attempt(strategy.name, 'skipped', str(exc)))
            log.info(events.STRATEGY_SKIPPED, extra={'strategy': strategy.name, 'reason': str(exc)})
            continue
        except ProviderError as exc:
            last_error = exc
            log.warning(
                events.STRATEGY_FAILED,
                extra={'strategy': strategy.name, 'provider': exc.provider, 'error_type': type(exc).__name__},
            )
            continue
        ctx.attempts.append(Attempt(strategy.name, 'succeeded', provider=','.join(segment.providers.values())))
        log.info(events.STRATEGY_SUCCEEDED, extra={'strategy': strategy.name, 'providers': segment.providers})
        return ChainOutcome(strategy.name, segment, tuple(ctx.attempts))
    raise ChainExhausted(ctx.attempts, last_error)
