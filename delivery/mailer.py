"""Sending one message: over SMTP (smtplib), or, with no SMTP_HOST, into the outbox directory.

Errors are sorted for the retry policy: a 5xx answer (the address or the message refused for
good) is permanent; a 4xx, a timeout or a refused connection is worth another try.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from settings import Settings


class MailError(Exception):
    permanent = False


class PermanentMailError(MailError):
    permanent = True


class TransientMailError(MailError):
    pass


def send_smtp(message: EmailMessage, settings: Settings) -> None:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    try:
        smtp: smtplib.SMTP
        if settings.smtp_tls == 'ssl':
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if settings.smtp_tls == 'starttls':
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ''
                smtp.login(settings.smtp_user, password)
            refused = smtp.send_message(message)
            if refused:  # some recipients refused, the rest accepted: ours is the only one
                code = min(c for c, _ in refused.values())
                raise (PermanentMailError if code >= 500 else TransientMailError)(f'recipient refused: {code}')
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        error = PermanentMailError if codes and min(codes) >= 500 else TransientMailError
        raise error(f'recipient refused: {codes}') from None
    except smtplib.SMTPResponseException as exc:
        error = PermanentMailError if exc.smtp_code >= 500 else TransientMailError
        # The server's own words may quote the address: only the code is kept.
        raise error(f'SMTP {exc.smtp_code}') from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientMailError(f'SMTP unavailable: {type(exc).__name__}') from None


def write_outbox(message: EmailMessage, outbox: Path, name: str) -> Path:
    """The demo's mailbox: the message as a .eml file any mail client opens."""
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f'{name}.eml'
    partial = path.with_name(f'.{path.name}.partial')
    partial.write_bytes(message.as_bytes())
    partial.replace(path)
    return path
