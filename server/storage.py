"""The only module that talks to S3 (boto3). Keys are built in server.keys, never from user input.

boto3 is synchronous: async callers run these methods with ``anyio.to_thread.run_sync``; presigning
does no network I/O and may be called directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    addressing_style: str = "path"
    public_endpoint_url: str | None = None


@dataclass(frozen=True)
class StoredPart:
    number: int
    etag: str
    size: int


class Storage:
    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.bucket = config.bucket
        self._client = self._make_client(config.endpoint_url, retries=5)
        self._signer = self._make_client(config.public_endpoint_url or config.endpoint_url, retries=0)

    def _make_client(self, endpoint: str, *, retries: int) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=self.config.access_key,
            aws_secret_access_key=self.config.secret_key,
            region_name=self.config.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": self.config.addressing_style},
                retries={"max_attempts": retries, "mode": "standard"} if retries else {"max_attempts": 1},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=32,
            ),
        )

    # --- bucket and health ----------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self.bucket)

    def ping(self) -> None:
        """Raise if S3 cannot be reached; a fast path for /readyz (no retries)."""
        self._signer.head_bucket(Bucket=self.bucket)

    # --- objects --------------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream",
                  cache_control: str | None = None) -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream",
                 cache_control: str | None = None) -> None:
        extra: dict[str, str] = {"ContentType": content_type}
        if cache_control:
            extra["CacheControl"] = cache_control
        self._client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    def get_bytes(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def download_file(self, key: str, path: Path) -> None:
        self._client.download_file(self.bucket, key, str(path))

    def size_of(self, key: str) -> int | None:
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def list_keys(self, prefix: str) -> Iterator[str]:
        return (key for key, _ in self.list_modified(prefix))

    def list_modified(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every object under ``prefix``."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"]

    def delete_keys(self, keys: list[str]) -> int:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def delete_prefix(self, prefix: str) -> int:
        return self.delete_keys(list(self.list_keys(prefix)))

    def presign_get(self, key: str, ttl_s: int, *, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self._signer.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_s)

    # --- multipart uploads ----------------------------------------------------------------------

    def create_multipart(self, key: str, content_type: str = "application/octet-stream") -> str:
        return self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)[
            "UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, ttl_s: int) -> str:
        return self._signer.generate_presigned_url(
            "upload_part",
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            ExpiresIn=ttl_s,
        )

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        return self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                        PartNumber=part_number, Body=data)["ETag"]

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        parts: list[StoredPart] = []
        marker = 0
        while True:
            page = self._client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                           PartNumberMarker=marker, MaxParts=1000)
            parts.extend(StoredPart(p["PartNumber"], p["ETag"], int(p["Size"])) for p in page.get("Parts", []))
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    def complete_multipart(self, key: str, upload_id: str, parts: list[StoredPart]) -> None:
        self._client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    def list_multipart_uploads(self, prefix: str = "") -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = []
        kwargs: dict[str, str] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self._client.list_multipart_uploads(**kwargs)
            uploads.extend(page.get("Uploads", []))
            if not page.get("IsTruncated"):
                return uploads
            kwargs["KeyMarker"] = page["NextKeyMarker"]
            kwargs["UploadIdMarker"] = page["NextUploadIdMarker"]
