"""Monitoring: the health checks ops run (health_check.py, and later GET /health)."""

from monitoring.health import Check, HealthReport, run_checks

__all__ = ['Check', 'HealthReport', 'run_checks']
