"""Where alerts go: a Slack-compatible incoming webhook (`{"text": ...}`) and/or an e-mail.

A notification that cannot be sent is logged, never raised: the maintenance loop that sends it
must go on (the alert stays visible in `cli.py alerts` and on /metrics either way).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

import requests

import events
from settings import Settings

if TYPE_CHECKING:
    from alerts.evaluate import AlertStatus

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


class Notifier(Protocol):
    def send(self, alert: AlertStatus, kind: str) -> None: ...


def message(alert: AlertStatus, kind: str) -> str:
    icon = ':rotating_light:' if kind == 'firing' else ':white_check_mark:'
    value = 'none' if alert.value == float('inf') else f'{alert.value:g}'
    return (f'{icon} [{kind.upper()}] {alert.name} ({alert.severity}): {alert.summary} '
            f'(value {value}, threshold {alert.threshold:g}). Runbook: {alert.runbook}')  # fmt: skip


class SettingsNotifier:
    """ALERT_WEBHOOK_URL and/or ALERT_EMAIL, as configured; neither: the log line only."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, alert: AlertStatus, kind: str) -> None:
        text = message(alert, kind)
        if self.settings.alert_webhook_url:
            try:
                answer = requests.post(self.settings.alert_webhook_url, json={'text': text},
                                       timeout=WEBHOOK_TIMEOUT_SECONDS)  # fmt: skip
                answer.raise_for_status()
            except requests.RequestException as exc:
                log.error(events.ALERT_NOTIFY_FAILED, extra={'alert': alert.name, 'channel': 'webhook',
                                                             'error': type(exc).__name__})  # fmt: skip
        if self.settings.alert_email:
            mail = EmailMessage()
            mail['From'] = self.settings.alert_email_from
            mail['To'] = self.settings.alert_email
            mail['Subject'] = f'[papanoel {kind}] {alert.name}'
            mail.set_content(text)
            try:
                with smtplib.SMTP(self.settings.alert_smtp_host, self.settings.alert_smtp_port, timeout=10) as smtp:
                    smtp.send_message(mail)
            except (OSError, smtplib.SMTPException) as exc:
                log.error(events.ALERT_NOTIFY_FAILED, extra={'alert': alert.name, 'channel': 'email',
                                                             'error': type(exc).__name__})  # fmt: skip
