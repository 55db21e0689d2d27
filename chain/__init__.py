"""The fallback chain: three ways to make Papá Noel speak, tried in a fixed order."""

from chain.policy import DEFAULT_CHAIN, ChainExhausted, ChainOutcome, run_chain
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

__all__ = [
    'DEFAULT_CHAIN',
    'Attempt',
    'ChainContext',
    'ChainExhausted',
    'ChainOutcome',
    'LipSyncStrategy',
    'SantaSegment',
    'Strategy',
    'StrategyUnavailable',
    'TalkingVideoStrategy',
    'VoiceOverStrategy',
    'run_chain',
]
