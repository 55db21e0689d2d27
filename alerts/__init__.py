"""Alerts: the rules (alerts/rules.py), what they observe, their evaluation and notification."""

from alerts.evaluate import AlertStatus, current, evaluate_and_notify
from alerts.notify import SettingsNotifier
from alerts.rules import RULES

__all__ = ['RULES', 'AlertStatus', 'SettingsNotifier', 'current', 'evaluate_and_notify']
