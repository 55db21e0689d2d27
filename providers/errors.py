"""One error tree for every provider; vendor errors are mapped into it at the boundary.

    ProviderError                  anything a provider call can raise
     ├── TransientProviderError    may succeed if tried again (timeouts, connection, 5xx)
     │    ├── ProviderTimeout
     │    └── ProviderRateLimited  429; carries the server's Retry-After when it sent one
     ├── PermanentProviderError    will fail again as asked (auth, validation, bad media)
     │    ├── ProviderMisconfigured  our side is wrong: bad/missing URL, scheme, TLS, 401/403 key
     │    └── IdempotencyConflict    the vendor saw this Idempotency-Key with another body
     ├── ContentRejected           the provider refused this content (moderation)
     └── QuotaExhausted            credits or plan used up until someone pays

The fallback chain decides on the class alone: it never inspects vendor payloads.
"""

from __future__ import annotations


class ProviderError(Exception):
    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        self.message = message
        super().__init__(f'{provider}: {message}')


class TransientProviderError(ProviderError):
    pass


class ProviderTimeout(TransientProviderError):
    pass


class ProviderRateLimited(TransientProviderError):
    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    pass


class ContentRejected(ProviderError):
    pass


class QuotaExhausted(ProviderError):
    pass


class ProviderMisconfigured(PermanentProviderError):
    """A configuration fault (URL, scheme, TLS, credentials): retrying the same settings cannot help.

    Health reports it as "misconfigured" rather than "unreachable".
    """


class IdempotencyConflict(PermanentProviderError):
    """The vendor refused an Idempotency-Key it had seen with a different request body.

    Permanent for that key: the client may move to a fresh key only when it knows the earlier
    generation under it is terminal and failed (otherwise a second one would be paid for).
    """
