"""Admin command groups for cli.py: the dead-letter queue, stats and cleanup."""
