"""The shared provider plumbing: Retry-After parsing, HTTP status mapping, and polling under a deadline."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import pytest
import requests

from providers.errors import (
    ContentRejected,
    PermanentProviderError,
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.http import error_for_status, json_body, mapped_errors, retry_after_seconds
from providers.polling import PollPolicy, poll_until

NOW = 1_800_000_000.0


def _response(status: int, body: bytes = b'', headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    response.url = 'http://vendor.test/v1/thing'
    return response


# --- retry_after_seconds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ('value', 'seconds'),
    [('7', 7.0), (' 2.5 ', 2.5), ('0', 0.0), ('-3', 0.0), (None, None), ('', None), ('soon', None)],
)
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_retry_after_as_an_http_date() -> None:
    header = email.utils.formatdate(NOW + 30, usegmt=True)
    assert retry_after_seconds(header, now=NOW) == pytest.approx(30)


def test_retry_after_date_in_the_past_means_now() -> None:
    assert retry_after_seconds(email.utils.formatdate(NOW - 60, usegmt=True), now=NOW) == 0


# --- error_for_status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ('status', 'error'),
    [
        (400, PermanentProviderError),
        (401, ProviderMisconfigured),
        (402, QuotaExhausted),
        (403, ProviderMisconfigured),
        (404, PermanentProviderError),
        (408, TransientProviderError),
        (409, TransientProviderError),
        (422, PermanentProviderError),
        (429, ProviderRateLimited),
        (451, ContentRejected),
        (500, TransientProviderError),
        (502, TransientProviderError),
        (503, TransientProviderError),
    ],
)
def test_error_for_status_maps_each_class(status: int, error: type[ProviderError]) -> None:
    mapped = error_for_status('vendor', _response(status, b'{"message": "nope"}'))
    assert type(mapped) is error
    assert mapped.provider == 'vendor'
    assert str(status) in mapped.message and 'nope' in mapped.message


@pytest.mark.parametrize('status', [200, 201, 204, 302])
def test_error_for_status_passes_success(status: int) -> None:
    assert error_for_status('vendor', _response(status)) is None


def test_rate_limit_carries_retry_after() -> None:
    mapped = error_for_status('vendor', _response(429, headers={'Retry-After': '7'}))
    assert isinstance(mapped, ProviderRateLimited) and mapped.retry_after == 7
    mapped = error_for_status('vendor', _response(429))
    assert isinstance(mapped, ProviderRateLimited) and mapped.retry_after is None


def test_json_body_of_malformed_json_is_transient() -> None:
    with pytest.raises(TransientProviderError, match='malformed JSON'):
        json_body('vendor', _response(200, b'<html>oops</html>'))
    assert json_body('vendor', _response(200, b'{"id": "g1"}')) == {'id': 'g1'}


@pytest.mark.parametrize(
    ('raised', 'error'),
    [
        (requests.ReadTimeout('slow'), ProviderTimeout),
        (requests.ConnectTimeout('slow'), ProviderTimeout),
        (requests.ConnectionError('refused'), TransientProviderError),
        (requests.exceptions.ChunkedEncodingError('cut'), TransientProviderError),
        # Configuration, never retried: they fail the same way until someone fixes the settings.
        (requests.exceptions.MissingSchema('no scheme'), ProviderMisconfigured),
        (requests.exceptions.InvalidSchema('gopher'), ProviderMisconfigured),
        (requests.exceptions.InvalidURL('bad'), ProviderMisconfigured),
        (requests.exceptions.SSLError('CERTIFICATE_VERIFY_FAILED'), ProviderMisconfigured),
    ],
)
def test_mapped_errors_turns_transport_failures_into_provider_errors(
    raised: Exception, error: type[ProviderError]
) -> None:
    with pytest.raises(error) as caught:
        with mapped_errors('vendor'):
            raise raised
    assert type(caught.value) is error


# --- poll_until -------------------------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _answers(*outcomes: object) -> Callable[[], object]:
    """A check that returns (or raises) each outcome in turn."""
    queue = list(outcomes)

    def check() -> object:
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return check


POLICY = PollPolicy(first_delay=1.0, max_delay=4.0, factor=2.0, deadline=30.0)


def test_poll_returns_the_first_result_with_backoff() -> None:
    time = FakeTime()
    result = poll_until('vendor', _answers(None, None, None, None, 'done'), POLICY, sleep=time.sleep, clock=time.clock)
    assert result == 'done'
    assert time.sleeps == [1.0, 2.0, 4.0, 4.0]  # doubles, capped at max_delay


def test_poll_past_the_deadline_is_a_timeout() -> None:
    time = FakeTime()
    with pytest.raises(ProviderTimeout, match='not finished within 30 s'):
        poll_until('vendor', lambda: None, POLICY, sleep=time.sleep, clock=time.clock)
    assert time.now <= POLICY.deadline


def test_poll_keeps_polling_through_transient_errors() -> None:
    time = FakeTime()
    check = _answers(TransientProviderError('vendor', '503'), ProviderTimeout('vendor', 'slow'), 'done')
    assert poll_until('vendor', check, POLICY, sleep=time.sleep, clock=time.clock) == 'done'
    assert len(time.sleeps) == 2


def test_poll_waits_as_long_as_a_rate_limit_asks() -> None:
    time = FakeTime()
    check = _answers(ProviderRateLimited('vendor', '429', retry_after=9.0), 'done')
    assert poll_until('vendor', check, POLICY, sleep=time.sleep, clock=time.clock) == 'done'
    assert time.sleeps == [9.0]


def test_poll_stops_at_a_permanent_error() -> None:
    time = FakeTime()
    check = _answers(None, PermanentProviderError('vendor', '404 unknown job'), 'never reached')
    with pytest.raises(PermanentProviderError):
        poll_until('vendor', check, POLICY, sleep=time.sleep, clock=time.clock)
    assert time.sleeps == [1.0]


def test_poll_timeout_names_the_last_transient_error() -> None:
    time = FakeTime()

    def check() -> None:
        raise TransientProviderError('vendor', 'HTTP 503 busy')

    with pytest.raises(ProviderTimeout, match='HTTP 503 busy'):
        poll_until('vendor', check, POLICY, sleep=time.sleep, clock=time.clock)


# --- deep health: no provider is "reachable" without a call ----------------------------------------


def test_a_provider_without_a_health_call_is_not_reported_reachable() -> None:
    from providers.base import TalkingVideoProvider

    class Bare(TalkingVideoProvider):
        name = 'bare'

    report = Bare().reachability()
    assert not report.ok and 'no health call' in report.detail


def test_every_provider_module_implements_its_own_health_call() -> None:
    import importlib
    import pkgutil

    import providers
    from providers.base import Provider

    for module in pkgutil.iter_modules(providers.__path__):
        importlib.import_module(f'providers.{module.name}')
    concrete: list[type[Provider]] = []
    stack: list[type[Provider]] = [Provider]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        # RemoteVideoProvider is the shared HTTP plumbing of HeyGen and Higgsfield, not a provider.
        if cls.__module__.startswith('providers.') and cls.__module__ not in (
            'providers.base',
            'providers.remote_video',
        ):
            concrete.append(cls)
    assert len(concrete) >= 8
    for cls in concrete:
        assert 'check_reachable' in {k for c in cls.__mro__ if c is not Provider for k in vars(c)}, cls
