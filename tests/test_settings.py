"""Every setting is documented, and bad settings are refused with their name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r'^([A-Z][A-Z0-9_]+)=', (ROOT / '.env.example').read_text(), re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set()


def test_an_unknown_warm_format_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('WARM_FORMATS', '["9:16","4:3"]')
    with pytest.raises(ValidationError, match="warm_formats(.|\\n)*unknown format '4:3'"):
        Settings()


def test_an_odd_output_size_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('OUTPUT_WIDTH', '181')
    with pytest.raises(ValidationError, match='output_width'):
        Settings()
