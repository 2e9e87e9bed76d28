"""Blobs in any S3-compatible store (AWS, MinIO, Ceph, …) through boto3.

`CLOUDLET_BLOB_URL=s3://bucket/optional/prefix?endpoint_url=http://host:9000&region=…`
(credentials from `access_key`/`secret_key` in the URL, else boto3's usual sources: the
AWS_* environment, ~/.aws, instance roles). Each blob is one object under a random key;
uploads are S3 multipart uploads whose id and finished parts live in `state` (the upload
session's row), so any worker can send the next part. S3 wants every part but the last to
hold at least 5 MiB: `min_part_size` tells the caller, which buffers smaller chunks in the
database until a part is full.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudlet.server.files.blobstore import READ_CHUNK, BlobNotFound, BlobStore, State

MIN_PART = 5 * 1024 * 1024


class S3Store(BlobStore):
    min_part_size = MIN_PART

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        import boto3  # the s3 extra; imported only when this store is picked
        from botocore.config import Config

        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        endpoint = query.get("endpoint_url")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=query.get("region", "us-east-1"),
            aws_access_key_id=query.get("access_key"),
            aws_secret_access_key=query.get("secret_key"),
            config=Config(
                s3={"addressing_style": "path" if endpoint else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=32,
            ),
        )
        return cls(client, parts.netloc, parts.path)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def start(self) -> State:
        key = self._key(f"blobs/{uuid.uuid4().hex}")
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        return {"key": key, "upload_id": upload["UploadId"], "parts": []}

    def chunk(self, state: State, offset: int, data: bytes) -> State:
        number = len(state["parts"]) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=state["key"], UploadId=state["upload_id"],
            PartNumber=number, Body=data,
        )
        return {**state, "parts": [*state["parts"], {"n": number, "etag": answer["ETag"]}]}

    def finish(self, state: State) -> str:
        if not state["parts"]:  # an empty blob is one empty part
            state = self.chunk(state, 0, b"")
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=state["key"], UploadId=state["upload_id"],
            MultipartUpload={"Parts": [{"PartNumber": p["n"], "ETag": p["etag"]}
                                       for p in state["parts"]]},
        )
        return str(state["key"])

    def promote(self, staged: str, sha256: str) -> str:
        return staged  # random keys: nothing to move

    def abort(self, state: State) -> None:
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=state["key"], UploadId=state["upload_id"]
            )
        except self.client.exceptions.NoSuchUpload:
            pass

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        wanted = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=wanted)
        except self.client.exceptions.NoSuchKey:
            raise BlobNotFound(key) from None
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidRange":
                return iter(())  # start at or past the end: no bytes
            raise
        return _stream(answer["Body"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def staging_id(self, state: State) -> str:
        return str(state["upload_id"])

    def sweep_staging(self, older_than: float, keep: set[str]) -> int:
        """Abort multipart uploads under our prefix that no session holds (a bucket
        lifecycle rule aborting incomplete uploads is a good second net)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        aborted = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self._key("blobs/"))
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["UploadId"] not in keep and upload["Initiated"] < cutoff:
                    self.abort({"key": upload["Key"], "upload_id": upload["UploadId"]})
                    aborted += 1
        return aborted

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(READ_CHUNK)
    finally:
        body.close()
