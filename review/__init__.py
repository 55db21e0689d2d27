"""Human review of the messages Santa will read: what a word list cannot judge, a person does.

`flags(message, mode)` says whether an order is held (phrase rules in rules_es.txt and
rules_en.txt, or every message under MESSAGE_REVIEW=all); `hold_order` accepts it in state
`review` without a job; `approve` queues it, `reject` fails it with a reason the parent sees.
Nothing in review is rendered: pipeline.produce refuses a record in that state.
"""

from review.decisions import NotInReview, approve, hold_order, pending, reject
from review.rules import ReviewMode, flags

__all__ = ['NotInReview', 'ReviewMode', 'approve', 'flags', 'hold_order', 'pending', 'reject']
