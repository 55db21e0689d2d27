"""Retry policy, two levels: each provider call (transient errors only), and whole job attempts."""

from retries.jobs import job_retry
from retries.provider_calls import ProviderRetryPolicy, call_with_retries

__all__ = ['ProviderRetryPolicy', 'call_with_retries', 'job_retry']
