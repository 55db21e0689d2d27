"""Assets are decoded fully wherever they are validated, once per content."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import compose.assets as assets_module
import utils.proc
from compose import AssetError, load_assets
from monitoring.health import _assets
from settings import Settings


def corrupt_mid_file(path: Path) -> None:
    """Garble bytes in the middle: the header (and so ffprobe) stays fine, decoding does not."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 600] = b'\xff' * 600
    path.write_bytes(bytes(data))


@pytest.fixture
def broken(small_assets: Path, tmp_path: Path) -> Path:
    assets = tmp_path / 'assets'
    shutil.copytree(small_assets, assets)
    corrupt_mid_file(assets / 'Frames_1_2_to_3.mov')
    return assets


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets_module, '_decoded', set())
    monkeypatch.setattr(assets_module, '_hashes', {})


def test_health_decodes_fully_and_names_a_file_corrupt_mid_stream(broken: Path, tmp_path: Path) -> None:
    load_assets(broken, decode=False)  # probing alone passes it
    check = _assets(Settings(assets_dir=broken, template_cache_dir=tmp_path / 'cache'))
    assert not check.ok and 'Frames_1_2_to_3.mov' in check.detail and 'does not decode' in check.detail


def test_each_job_check_decodes_fully_too(broken: Path, tmp_path: Path) -> None:
    with pytest.raises(AssetError, match='Frames_1_2_to_3.mov: does not decode cleanly'):
        load_assets(broken, verified_dir=tmp_path / 'cache')


def test_a_clean_decode_is_remembered_by_content_and_redone_when_the_file_changes(
    small_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = tmp_path / 'assets'
    shutil.copytree(small_assets, assets)
    decodes: list[str] = []
    real_run = utils.proc.run

    def counting_run(args: list[str], **kw: Any) -> Any:
        if '-xerror' in args:  # a full decode (not the read of a bed's channels)
            decodes.append(args[args.index('-i') + 1])
        return real_run(args, **kw)

    monkeypatch.setattr('compose.assets.run', counting_run)
    verified = tmp_path / 'cache'
    load_assets(assets, verified_dir=verified)
    assert len(decodes) == 3
    monkeypatch.setattr(assets_module, '_decoded', set())  # another process: only the disk remembers
    load_assets(assets, verified_dir=verified)
    assert len(decodes) == 3
    corrupt_mid_file(assets / 'Frames_1_2_to_3.mov')  # a new asset set: decoded again, and refused
    with pytest.raises(AssetError, match='Frames_1_2_to_3.mov'):
        load_assets(assets, verified_dir=verified)
    assert decodes[-1].endswith('Frames_1_2_to_3.mov') and len(decodes) == 4
