"""A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives, and can be
told to refuse: a 550 for an address (a bounce-worthy mailbox) or a 451 for the next N messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.web_support import free_port


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_rcpt: set[str] = field(default_factory=set)
    temporary_failures: int = 0
    data_attempts: int = 0
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_rcpt:
            return '550 5.1.1 mailbox unavailable'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.received:
            self.data_attempts += 1
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                return '451 4.3.0 try again later'
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.received.notify_all()
        return '250 OK'


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname='127.0.0.1', port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()
