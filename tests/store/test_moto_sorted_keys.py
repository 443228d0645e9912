"""The benches' sorted-key ListObjectsV2 patch for moto answers exactly what moto answers."""

from __future__ import annotations

import random
from typing import Any

from bench import moto_sorted_keys
from bench.moto_sorted_keys import sorted_listing

BUCKET = "tfpilot-sorted-keys-test"


def _pages(client: Any, **kwargs: Any) -> list[tuple[list[str], bool]]:
    pages: list[tuple[list[str], bool]] = []
    token: str | None = None
    while True:
        args = dict(kwargs, ContinuationToken=token) if token else kwargs
        page = client.list_objects_v2(Bucket=BUCKET, **args)
        pages.append(([o["Key"] for o in page.get("Contents", [])], page["IsTruncated"]))
        token = page.get("NextContinuationToken")
        if not token:
            return pages


def test_the_sorted_listing_answers_what_moto_answers(s3_client: Any) -> None:
    rng = random.Random(16)
    s3_client.create_bucket(Bucket=BUCKET)
    alphabet = "ab~/-0Z"
    keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(150)}
    for key in keys:
        s3_client.put_object(Bucket=BUCKET, Key=key, Body=b"")
    cases: list[dict[str, Any]] = [{}, {"Delimiter": "/", "MaxKeys": 20}]
    for _ in range(30):
        case: dict[str, Any] = {"MaxKeys": rng.choice([3, 7, 50, 1000])}
        if rng.random() < 0.8:
            case["Prefix"] = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.5:
            case["StartAfter"] = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
        cases.append(case)
    expected = [_pages(s3_client, **case) for case in cases]
    with sorted_listing():
        assert [_pages(s3_client, **case) for case in cases] == expected
        assert moto_sorted_keys._INDEXED  # the sorted index answered
        # Writes and deletes while patched keep the index right.
        s3_client.put_object(Bucket=BUCKET, Key="a~new", Body=b"")
        s3_client.delete_object(Bucket=BUCKET, Key=sorted(keys)[0])
        after = [_pages(s3_client, **case) for case in cases]
    assert [_pages(s3_client, **case) for case in cases] == after
