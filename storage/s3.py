"""Videos as objects in an S3-compatible bucket: AWS S3, MinIO, Cloudflare R2, or Google Cloud
Storage through its XML interoperability API (pick one with `endpoint_url`).

Nothing is public: providers and downloads get presigned GET URLs that expire.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

import events
from storage.base import Storage, StorageError
from traces import note_media

log = logging.getLogger(__name__)

_MEDIA_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,128}$')
# SigV4 presigned URLs are valid for at most 7 days.
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
_NOT_FOUND = {'404', 'NoSuchKey', 'NotFound'}
_CONTENT_TYPES = {'.mp4': 'video/mp4', '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.jpg': 'image/jpeg',
                  '.jpeg': 'image/jpeg', '.png': 'image/png'}  # fmt: skip
_CONTENT_TYPES['.vtt'] = 'text/vtt'  # subtitles (#14)


class S3Storage(Storage):
    name = 's3'

    def __init__(self, bucket: str, prefix: str = '', *, client: Any) -> None:
        if not bucket:
            raise StorageError('S3 storage needs a bucket (S3_BUCKET)')
        self.bucket = bucket
        # 'videos' and 'videos/' both mean the folder videos/.
        self.prefix = f'{prefix.strip("/")}/' if prefix.strip('/') else ''
        self.client = client

    def key(self, video_id: str) -> str:
        return f'{self.prefix}{self.object_name(video_id)}'

    def location(self, video_id: str) -> str:
        return f's3://{self.bucket}/{self.key(video_id)}'

    def exists(self, video_id: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(video_id))
        except ClientError as exc:
            if str(exc.response.get('Error', {}).get('Code')) in _NOT_FOUND:
                return False
            raise StorageError(f'cannot check {self.location(video_id)}: {exc}') from exc
        except BotoCoreError as exc:
            raise StorageError(f'cannot check {self.location(video_id)}: {exc}') from exc
        return True

    def save(self, video_id: str, source: Path) -> str:
        # No temp key + copy + delete: an S3 object appears only when its PUT (or the final
        # CompleteMultipartUpload of a large file) succeeds, so readers see all of it or nothing.
        self._upload(source, self.key(video_id))
        return self.location(video_id)

    def save_extra(self, video_id: str, name: str, source: Path) -> str:
        key = f'{self.prefix}{self.extra_object_name(video_id, name)}'
        self._upload(source, key)
        return f's3://{self.bucket}/{key}'

    def presigned_extra_url(self, video_id: str, name: str, expires_seconds: int = 3600) -> str:
        return self._presign(f'{self.prefix}{self.extra_object_name(video_id, name)}', expires_seconds)

    def publish(self, source: Path, *, name: str, expires_seconds: int = 3600) -> str:
        """Upload under `<prefix>media/<name>`; return a presigned GET URL valid `expires_seconds`."""
        if not _MEDIA_NAME.match(name):
            raise StorageError(f'invalid media name {name!r}')
        key = f'{self.prefix}media/{name}'
        self._upload(source, key)
        note_media(name)
        return self._presign(key, expires_seconds)

    def video_files(self, video_id: str) -> list[str]:
        stem = self.object_name(video_id).removesuffix('.mp4')
        # `<id>.<anything>`: every format, poster and subtitles of the video (a dot never appears in an id).
        return [f's3://{self.bucket}/{key}' for key in self._list(f'{self.prefix}{stem}.')]

    def delete_video(self, video_id: str) -> list[str]:
        stem = self.object_name(video_id).removesuffix('.mp4')
        return self._delete(self._list(f'{self.prefix}{stem}.'))

    def media_files(self, names: list[str]) -> list[str]:
        keys = {f'{self.prefix}media/{n}' for n in names if _MEDIA_NAME.match(n)}
        return [f's3://{self.bucket}/{k}' for k in self._list(f'{self.prefix}media/') if k in keys]

    def delete_media(self, names: list[str]) -> list[str]:
        keys = {f'{self.prefix}media/{n}' for n in names if _MEDIA_NAME.match(n)}
        return self._delete([k for k in self._list(f'{self.prefix}media/') if k in keys])

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self.client.get_paginator('list_objects_v2').paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item['Key'] for item in page.get('Contents', []))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f'cannot list s3://{self.bucket}/{prefix}: {exc}') from exc
        return keys

    def _delete(self, keys: list[str]) -> list[str]:
        try:
            for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                batch = [{'Key': k} for k in keys[start : start + 1000]]
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={'Objects': batch, 'Quiet': True})
                if answer.get('Errors'):
                    raise StorageError(f'could not delete from s3://{self.bucket}: {answer["Errors"][0]}')
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f'could not delete from s3://{self.bucket}: {exc}') from exc
        return [f's3://{self.bucket}/{k}' for k in keys]

    def check_writable(self, probe_name: str) -> None:
        key = f'{self.prefix}.{probe_name}'
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b'ok')
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f'cannot write to s3://{self.bucket}/{self.prefix}: {exc}') from exc

    def presigned_url(self, video_id: str, expires_seconds: int = 3600) -> str:
        """A time-limited download link for a finished video."""
        return self._presign(self.key(video_id), expires_seconds)

    def _upload(self, source: Path, key: str) -> None:
        extra = {'ContentType': _CONTENT_TYPES.get(source.suffix.lower(), 'application/octet-stream')}
        try:
            self.client.upload_file(str(source), self.bucket, key, ExtraArgs=extra)
        except (Boto3Error, BotoCoreError, ClientError, OSError) as exc:
            raise StorageError(f'could not store s3://{self.bucket}/{key}: {exc}') from exc
        log.debug(events.STORAGE_UPLOADED, extra={'bucket': self.bucket, 'key': key})

    def _presign(self, key: str, expires_seconds: int) -> str:
        if not 1 <= expires_seconds <= MAX_EXPIRES_SECONDS:
            raise StorageError(f'expires_seconds must be 1..{MAX_EXPIRES_SECONDS}, not {expires_seconds}')
        try:
            url: str = self.client.generate_presigned_url(
                'get_object', Params={'Bucket': self.bucket, 'Key': key}, ExpiresIn=expires_seconds
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f'cannot sign a URL for s3://{self.bucket}/{key}: {exc}') from exc
        return url
