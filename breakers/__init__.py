"""Circuit breakers: a provider that keeps failing is skipped by every worker for a while."""

from breakers.circuit import BreakerBoard, BreakerState, CircuitBreaker

__all__ = ['BreakerBoard', 'BreakerState', 'CircuitBreaker']
