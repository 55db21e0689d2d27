"""The dead-letter queue: jobs whose every attempt failed, kept until an admin retries or purges them."""

from deadletter.crashes import note_crash
from deadletter.queue import DeadLetter, DeadLetterQueue, DeadLetterTaken, UnknownDeadLetter

__all__ = ['DeadLetter', 'DeadLetterQueue', 'DeadLetterTaken', 'UnknownDeadLetter', 'note_crash']
