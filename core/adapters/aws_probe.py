"""Does an AWS resource hold data? The destroy preflight's questions, asked with boto3.

A bucket holding any object version (or delete marker) and a repository holding any image make
AWS refuse their delete unless forced; the local runner asks before it deletes anything
(``core.domain.destroy.preflight``). Against the local cloud the client points at moto with its
placeholder credentials; against AWS it uses boto3's own credential chain.
"""

from __future__ import annotations

import os
from typing import Any

from core.adapters.local_cloud import Cloud

_MISSING = {"NoSuchBucket", "RepositoryNotFoundException", "404", "NotFound"}


class AwsDataProbe:
    def __init__(self, cloud: Cloud, *, region: str | None = None) -> None:
        self._cloud = cloud
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    def _client(self, service: str) -> Any:
        import boto3

        make: Any = boto3.client  # the service name is chosen at run time (s3 or ecr)
        endpoint = getattr(self._cloud, "endpoint", None)
        if self._cloud.mode == "moto" and endpoint is not None:
            return make(
                service,
                endpoint_url=endpoint(),
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",  # noqa: S106 - moto's placeholder credentials
            )
        return make(service, region_name=self._region)

    def holds(self, data: str, name: str) -> bool:
        """True when the bucket (``objects``) or repository (``images``) ``name`` holds any."""
        from botocore.exceptions import ClientError

        try:
            if data == "objects":
                page = self._client("s3").list_object_versions(Bucket=name, MaxKeys=1)
                return bool(page.get("Versions") or page.get("DeleteMarkers"))
            if data == "images":
                page = self._client("ecr").list_images(repositoryName=name, maxResults=1)
                return bool(page.get("imageIds"))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                return False
            raise
        return False
