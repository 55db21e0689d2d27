"""S3 storage against moto's S3 server, behind a gateway that checks presigned URLs like S3
(tests/s3_gateway.py: moto itself accepts any signature and never expires a URL)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
import pytest
import requests
from moto.server import ThreadedMotoServer

from settings import Settings
from storage import LocalStorage, StorageError, build_storage
from storage.s3 import S3Storage
from tests.s3_gateway import Gateway, s3_gateway

KEYS = {'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing'}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope='session')
def s3_endpoint() -> Iterator[tuple[str, Gateway]]:
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with s3_gateway(f'http://{host}:{port}', KEYS['AWS_ACCESS_KEY_ID'], KEYS['AWS_SECRET_ACCESS_KEY']) as front:
            yield front
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials in the environment, the way the worker gets them; nothing from this machine."""
    for name in ('AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('AWS_CONFIG_FILE', '/nonexistent')
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent')
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'us-east-1')
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(s3_endpoint: tuple[str, Gateway], aws_env: None) -> str:
    name = f'papa-noel-{uuid.uuid4().hex[:12]}'
    boto3.client('s3', endpoint_url=s3_endpoint[0], region_name='us-east-1').create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, bucket: str, **more: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_type='s3',
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        s3_region='us-east-1',
        **more,
    )


@pytest.fixture
def storage(s3_endpoint: tuple[str, Gateway], bucket: str) -> S3Storage:
    built = build_storage(s3_settings(s3_endpoint[0], bucket, s3_prefix='videos/'))
    assert isinstance(built, S3Storage)
    return built


@pytest.fixture
def media(tmp_path: Path) -> Path:
    path = tmp_path / 'clip.mp4'
    path.write_bytes(b'\x00\x00\x00\x18ftypmp42' + uuid.uuid4().bytes * 64)
    return path


def test_save_exists_and_location(storage: S3Storage, bucket: str, media: Path) -> None:
    assert not storage.exists('vid-1')
    assert storage.location('vid-1') == f's3://{bucket}/videos/vid-1.mp4'
    assert storage.save('vid-1', media) == f's3://{bucket}/videos/vid-1.mp4'
    assert storage.exists('vid-1')
    stored = storage.client.get_object(Bucket=bucket, Key='videos/vid-1.mp4')
    assert stored['Body'].read() == media.read_bytes()
    assert stored['ContentType'] == 'video/mp4'
    with pytest.raises(StorageError, match='invalid video id'):
        storage.save('../escape', media)


def test_publish_returns_a_presigned_url_anyone_can_fetch_until_it_expires(
    storage: S3Storage, s3_endpoint: tuple[str, Gateway], media: Path
) -> None:
    url = storage.publish(media, name='higgsfield-abc.mp4', expires_seconds=300)
    parts = urlsplit(url)
    assert parts.path.endswith('/videos/media/higgsfield-abc.mp4') and 'X-Amz-Signature=' in parts.query
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == media.read_bytes()
    # Without the signature the object is private.
    assert requests.get(url.split('?')[0], timeout=10).status_code == 403
    # A tampered signature, or the same URL after its lifetime, is refused.
    gateway = s3_endpoint[1]
    tampered = url.replace('X-Amz-Expires=300', 'X-Amz-Expires=600000')
    assert requests.get(tampered, timeout=10).status_code == 403
    gateway.clock_skew = 301
    try:
        assert requests.get(url, timeout=10).status_code == 403
    finally:
        gateway.clock_skew = 0
    assert gateway.refused == ['SignatureDoesNotMatch', 'AccessDenied']


def test_presigned_url_downloads_a_saved_video(storage: S3Storage, media: Path) -> None:
    storage.save('vid-2', media)
    fetched = requests.get(storage.presigned_url('vid-2', expires_seconds=60), timeout=10)
    assert fetched.status_code == 200 and fetched.content == media.read_bytes()
    with pytest.raises(StorageError, match='expires_seconds'):
        storage.presigned_url('vid-2', expires_seconds=8 * 24 * 3600)  # SigV4 allows 7 days at most
    with pytest.raises(StorageError, match='invalid media name'):
        storage.publish(media, name='../../etc/passwd')


def test_failures_are_storage_errors(s3_endpoint: tuple[str, Gateway], aws_env: None, media: Path) -> None:
    missing = build_storage(s3_settings(s3_endpoint[0], f'no-such-bucket-{uuid.uuid4().hex[:8]}'))
    with pytest.raises(StorageError, match='could not store'):
        missing.save('vid-3', media)
    with pytest.raises(StorageError, match='could not store'):
        missing.publish(media.with_name('gone.mp4'), name='gone.mp4')


def test_build_storage_picks_the_backend_from_settings(tmp_path: Path, aws_env: None) -> None:
    local = build_storage(Settings(_env_file=None, output_dir=tmp_path, public_media_base_url='http://m'))  # type: ignore[call-arg]
    assert isinstance(local, LocalStorage) and local.root == tmp_path
    remote = build_storage(Settings(_env_file=None, storage_type='s3', s3_bucket='b', s3_prefix='p'))  # type: ignore[call-arg]
    assert isinstance(remote, S3Storage) and remote.location('v') == 's3://b/p/v.mp4'
    # `AWS_ACCESS_KEY_ID=` copied from .env.example is "unset" (boto3's chain), not an empty key.
    assert Settings(_env_file=None, aws_access_key_id='').aws_access_key_id is None  # type: ignore[call-arg, arg-type]
    with pytest.raises(StorageError, match='S3_BUCKET'):
        build_storage(Settings(_env_file=None, storage_type='s3'))  # type: ignore[call-arg]


def test_health_probe_writes_and_removes_an_object(storage: S3Storage, s3_endpoint: tuple[str, Gateway]) -> None:
    storage.check_writable('healthcheck-probe')
    listed = storage.client.list_objects_v2(Bucket=storage.bucket).get('Contents', [])
    assert not [o for o in listed if 'healthcheck' in o['Key']]
    missing = S3Storage('no-such-bucket', client=storage.client)
    with pytest.raises(StorageError):
        missing.check_writable('healthcheck-probe')
