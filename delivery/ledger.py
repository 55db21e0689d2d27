"""One record per video, channel and event: what makes a message go out once.

`papanoel:delivery:<video_id>:<channel>:<event>` is a hash with `state` (sending, sent,
failed), `attempts` and `at`. A job sends only after winning the claim (a short lease, so two
duplicate jobs never send at once) and only while the state is not final; it writes `sent`
right after the server accepted the message. The one window left, a crash between the SMTP
server's "250 OK" and that write, would resend the same Message-ID, which mail clients show once.
"""

from __future__ import annotations

import time

from redis import Redis

from utils.redis_values import text_dict

PREFIX = 'papanoel:delivery:'
FINAL = ('sent', 'failed')


def ledger_key(video_id: str, channel: str, event: str) -> str:
    return f'{PREFIX}{video_id}:{channel}:{event}'


class Ledger:
    def __init__(self, conn: Redis, video_id: str, channel: str, event: str) -> None:
        self.conn = conn
        self.key = ledger_key(video_id, channel, event)
        self.lease_key = f'{self.key}:lease'

    def state(self) -> str:
        return text_dict(self.conn.hgetall(self.key)).get('state', '')

    def claim(self, holder: str, lease_seconds: int) -> bool:
        """True when this holder may send now: nothing final yet and no one else sending."""
        if self.state() in FINAL:
            return False
        if not self.conn.set(self.lease_key, holder, nx=True, ex=lease_seconds):
            return False
        if self.state() in FINAL:  # finished between the first look and the lease
            self.release()
            return False
        self.conn.hset(self.key, mapping={'state': 'sending', 'at': time.time()})
        self.conn.hincrby(self.key, 'attempts', 1)
        return True

    def finish(self, state: str) -> None:
        self.conn.hset(self.key, mapping={'state': state, 'at': time.time()})
        self.release()

    def release(self) -> None:
        self.conn.delete(self.lease_key)
