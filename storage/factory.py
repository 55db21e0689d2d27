"""The storage backend STORAGE_TYPE names, built from the settings."""

from __future__ import annotations

from typing import Any

from settings import Settings
from storage.base import Storage, StorageError
from storage.local import LocalStorage


def build_storage(settings: Settings) -> Storage:
    if settings.storage_type == 's3':
        from storage.s3 import S3Storage  # boto3 loads only when S3 is used

        return S3Storage(settings.s3_bucket, settings.s3_prefix, client=s3_client(settings))
    return LocalStorage(settings.output_dir, public_base_url=settings.public_media_base_url)


def s3_client(settings: Settings) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

    if not settings.s3_bucket:
        raise StorageError('STORAGE_TYPE=s3 needs S3_BUCKET')
    config = Config(
        signature_version='s3v4',
        # Custom endpoints (MinIO, a bare IP, GCS) want bucket-in-path URLs; AWS picks its own style.
        s3={'addressing_style': 'path' if settings.s3_endpoint_url else 'auto'},
        # boto3 >= 1.36 adds CRC checksums to every upload, which GCS and some S3-compatible
        # servers reject; send them only where the API requires them.
        request_checksum_calculation='when_required',
        response_checksum_validation='when_required',
        retries={'mode': 'standard', 'max_attempts': 3},
    )

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    try:
        return boto3.client(
            's3',
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            # None: boto3's own chain (environment, AWS_PROFILE, ~/.aws, instance or task role).
            aws_access_key_id=secret(settings.aws_access_key_id),
            aws_secret_access_key=secret(settings.aws_secret_access_key),
            aws_session_token=secret(settings.aws_session_token),
            config=config,
        )
    except BotoCoreError as exc:
        raise StorageError(f'cannot configure the S3 client: {exc}') from exc
