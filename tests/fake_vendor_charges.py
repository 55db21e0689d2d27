"""What the paid fake vendors charge, and the chaos switch that loses an answer after charging.

Every fake vendor that bills (Sync Labs, HeyGen videos and lip-syncs, Higgsfield) holds a
`ledger: ChargeLedger`. A call is charged when the vendor creates a new generation; a replay
under the same Idempotency-Key (same body) is not. The ledger is the independent evidence a
test or `bench/chaos.py` counts from, never the client's own bookkeeping:

    fake.ledger.lose_answers = 1         # the next charged call is billed, then its answer is lost (504)
    fake.ledger.charged_calls()          # how many generations were paid for
    fake.ledger.by_key()                 # {idempotency key (or '' when none): charges}
    fake.ledger.by_body()                # {sha256 of the canonical request body: charges}
    fake.ledger.answers_lost             # how many answers the switch has dropped so far

A lost answer is a 504 from "a proxy" after the vendor did the work: the client sees a
transient failure with no generation id, exactly what a dropped connection leaves it with.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Response


def canonical_digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(',', ':')).encode()).hexdigest()


@dataclass(frozen=True)
class Charge:
    key: str
    body_digest: str
    generation_id: str


@dataclass
class ChargeLedger:
    #: Charged calls whose answer is still to be lost (the chaos switch).
    lose_answers: int = 0
    answers_lost: int = 0
    charges: list[Charge] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, key: str | None, body: Any, generation_id: str) -> None:
        with self._lock:
            self.charges.append(Charge(key or '', canonical_digest(body), generation_id))

    def lose_this_answer(self) -> bool:
        """True (and counted) when the switch says the answer to the call just charged is lost."""
        with self._lock:
            if self.lose_answers <= 0:
                return False
            self.lose_answers -= 1
            self.answers_lost += 1
            return True

    def charged_calls(self) -> int:
        with self._lock:
            return len(self.charges)

    def by_key(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(c.key for c in self.charges))

    def by_body(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(c.body_digest for c in self.charges))


def lost_answer() -> Response:
    return Response('504 Gateway Timeout: upstream answered too late', status=504)
