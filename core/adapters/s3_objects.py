"""``S3ObjectStore``: the ``ObjectStore`` port on one S3 bucket through boto3.

Every write is a ``put_object`` with SSE ``AES256``; compare-and-swap uses S3's conditional
writes (``IfNoneMatch="*"`` to create, ``IfMatch=<etag>`` to replace), and a lost race (412
PreconditionFailed, 409 ConditionalRequestConflict, or 404 on an ``IfMatch`` whose object was
deleted meanwhile) becomes ``VersionConflict``. ``copy_object`` is never used for conditional
writes: emulators such as moto do not enforce conditions on it. Other S3 errors propagate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.domain.errors import VersionConflict
from core.ports.object_store import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _code(exc: ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), int(status)


class S3ObjectStore:
    def __init__(self, client: S3Client, bucket: str, *, page_size: int = 1000) -> None:
        self._client = client
        self._bucket = bucket
        self._page_size = page_size  # keys per ListObjectsV2 page (S3's maximum is 1000)

    @property
    def bucket(self) -> str:
        return self._bucket

    def get(self, key: str) -> StoredObject | None:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            code, status = _code(exc)
            if code in _MISSING_CODES or status == 404:
                return None
            raise
        return StoredObject(key, response["Body"].read(), response["ETag"])

    def get_if_changed(self, key: str, etag: str | None) -> StoredObject | None:
        if etag is None:
            return self.get(key)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key, IfNoneMatch=etag)
        except ClientError as exc:
            code, status = _code(exc)
            if status == 304 or code in {"304", "NotModified"}:
                return None
            if code in _MISSING_CODES or status == 404:
                return None
            raise
        return StoredObject(key, response["Body"].read(), response["ETag"])

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/json",
    ) -> str:
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
            "ServerSideEncryption": "AES256",
        }
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            response = self._client.put_object(**kwargs)
        except ClientError as exc:
            code, status = _code(exc)
            if code in _CONFLICT_CODES or status in {409, 412}:
                raise VersionConflict(key) from exc
            # IfMatch on an object deleted since it was read: the version we hold is gone.
            if if_match is not None and (code in _MISSING_CODES or status == 404):
                raise VersionConflict(key) from exc
            raise
        return response["ETag"]

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def delete_many(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            response = self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
            )
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise OSError(
                    f"s3://{self._bucket}: {len(errors)} key(s) not deleted, "
                    f"first {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[str]:
        if limit is not None and limit < 1:
            return
        left = limit
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": self._page_size}
        if start_after is not None:
            kwargs["StartAfter"] = start_after
        while True:
            if left is not None:
                kwargs["MaxKeys"] = min(self._page_size, left)
            page = self._client.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                yield item["Key"]
                if left is not None:
                    left -= 1
            if not page.get("IsTruncated") or left == 0:
                return
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
