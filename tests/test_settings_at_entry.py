"""Settings are read when an entry point builds them, never when a module is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

import delivery.jobs
import workers.jobs
from settings import Settings


def test_the_env_file_is_looked_up_when_settings_are_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / 'late.env'
    env_file.write_text('QUEUE_NAME=from-a-late-env-file\n')
    monkeypatch.delenv('QUEUE_NAME', raising=False)
    monkeypatch.setenv('PAPANOEL_ENV_FILE', str(env_file))  # after `settings` was imported
    assert Settings().queue_name == 'from-a-late-env-file'


def test_the_job_side_takes_the_settings_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery.jobs, '_given', [])
    workers.jobs.current_production.cache_clear()
    with pytest.raises(RuntimeError, match='no settings given'):
        workers.jobs.current_production()  # it never builds a second Settings() of its own


def test_a_work_horse_sends_its_mail_with_the_entry_points_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery.jobs, '_given', [])
    given = Settings(queue_name='given-by-the-entry-point')
    workers.jobs.use_settings(given)
    # The same object, forked into every horse: no horse reads the environment and .env again.
    assert delivery.jobs.current_settings() is given
