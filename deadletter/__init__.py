"""The dead-letter queue: jobs whose every attempt failed, kept until an admin retries or purges them."""

from deadletter.queue import DeadLetter, DeadLetterQueue, UnknownDeadLetter

__all__ = ['DeadLetter', 'DeadLetterQueue', 'UnknownDeadLetter']
