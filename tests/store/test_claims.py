"""``LapsingClaims``: a claim taken and never finished is retaken after its lapse, not before;
of several retakers exactly one wins; a released claim is free at once; markers written by
``Once.first`` (no time) lapse from when they are first seen.

Over the real stores (the local directory and S3 on moto, plus the in-memory fake the Slack tests
run on), and against moto's server with a retake's response dropped.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.adapters.s3_objects import S3ObjectStore
from core.ports.object_store import ObjectStore, StoredObject
from core.services.claims import Claim, LapsingClaims
from core.services.once import Once
from tests.store.lost_response import LoseFirstResponse
from tests.store.test_once import s3_client

LAPSE = timedelta(minutes=10)
T0 = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
PREFIX = "dedupe/slack"


def _claims(objects: ObjectStore) -> LapsingClaims:
    return LapsingClaims(objects, PREFIX, lapse=LAPSE)


def _marker(objects: ObjectStore, key: str) -> dict[str, Any]:
    found = objects.get(f"{PREFIX}/{key}")
    assert found is not None
    doc: dict[str, Any] = json.loads(found.body)
    return doc


def test_a_claim_taken_and_never_finished_is_retaken_after_its_lapse_and_not_before(
    object_store: ObjectStore,
) -> None:
    first = _claims(object_store).take("cardcopy:a", now=T0)
    assert first is not None  # and then its process died
    other = _claims(object_store)  # another process
    assert other.take("cardcopy:a", now=T0) is None
    assert other.take("cardcopy:a", now=T0 + LAPSE - timedelta(seconds=1)) is None
    retaken = other.take("cardcopy:a", now=T0 + LAPSE)
    assert retaken is not None and retaken.token != first.token
    assert _marker(object_store, "cardcopy:a")["token"] == retaken.token
    assert _marker(object_store, "cardcopy:a")["at"] == (T0 + LAPSE).isoformat()
    # The retaken claim is as fresh as a new one: it lapses from its own time.
    assert other.take("cardcopy:a", now=T0 + LAPSE + LAPSE - timedelta(seconds=1)) is None
    # Other keys are independent.
    assert other.take("cardcopy:b", now=T0) is not None


def test_a_released_claim_is_free_at_once_and_a_stale_release_changes_nothing(object_store: ObjectStore) -> None:
    claims = _claims(object_store)
    held = claims.take("cardcopy:a", now=T0)
    assert held is not None
    assert claims.release(held) is True
    again = claims.take("cardcopy:a", now=T0 + timedelta(seconds=1))
    assert again is not None
    # The first holder releasing again (a late error path) does not free the new holder's claim.
    assert claims.release(held) is False
    assert _marker(object_store, "cardcopy:a")["token"] == again.token
    assert claims.take("cardcopy:a", now=T0 + timedelta(seconds=2)) is None


def test_the_lapsed_holder_cannot_release_the_claim_that_overtook_it(object_store: ObjectStore) -> None:
    claims = _claims(object_store)
    slow = claims.take("cardcopy:a", now=T0)
    assert slow is not None
    overtaking = claims.take("cardcopy:a", now=T0 + LAPSE)
    assert overtaking is not None
    assert claims.release(slow) is False  # the slow one's post failed, after the lapse
    assert claims.take("cardcopy:a", now=T0 + LAPSE + timedelta(seconds=1)) is None


class ReadTogether:
    """The real store, where every caller's first read of the marker waits for all the others':
    all retakers see the same lapsed version, then race their conditional puts."""

    def __init__(self, objects: ObjectStore, parties: int) -> None:
        self._objects = objects
        self._barrier = threading.Barrier(parties, timeout=30)
        self._local = threading.local()

    def get(self, key: str) -> StoredObject | None:
        found = self._objects.get(key)
        if not getattr(self._local, "read", False):
            self._local.read = True
            self._barrier.wait()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._objects, name)


def test_of_several_retakers_of_a_lapsed_claim_exactly_one_wins(object_store: ObjectStore) -> None:
    assert _claims(object_store).take("cardcopy:a", now=T0) is not None  # its taker died
    parties = 4
    together = ReadTogether(object_store, parties)
    won: list[Claim] = []
    errors: list[BaseException] = []

    def retake() -> None:
        try:
            claim = LapsingClaims(together, PREFIX, lapse=LAPSE).take("cardcopy:a", now=T0 + LAPSE)  # type: ignore[arg-type]
            if claim is not None:
                won.append(claim)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=retake) for _ in range(parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(won) == 1
    assert _marker(object_store, "cardcopy:a")["token"] == won[0].token


@pytest.mark.parametrize(
    "body",
    [
        b'{"key": "cardcopy:a", "at": null, "token": "t0"}',  # Once.first(key) without at
        b'{"key": "cardcopy:a", "token": "t0"}',
        b'{"key": "cardcopy:a", "at": "2026-12-08T02:00:00", "token": "t0"}',  # no time zone
        b"not json",
    ],
)
def test_a_marker_without_a_time_lapses_from_when_it_is_first_seen(object_store: ObjectStore, body: bytes) -> None:
    # Written by the previous version: maybe by a process that died, maybe by one still posting.
    object_store.put(f"{PREFIX}/cardcopy:a", body)
    claims = _claims(object_store)
    seen = T0 + timedelta(days=3)
    assert claims.take("cardcopy:a", now=seen) is None  # not lapsed at once ...
    assert _marker(object_store, "cardcopy:a")["at"] == seen.isoformat()  # ... but stamped
    assert claims.take("cardcopy:a", now=seen + LAPSE - timedelta(seconds=1)) is None
    assert claims.take("cardcopy:a", now=seen + LAPSE) is not None


def test_a_once_marker_of_the_same_key_is_such_a_marker(object_store: ObjectStore) -> None:
    assert Once(object_store, PREFIX).first("cardcopy:a") is True
    claims = _claims(object_store)
    assert claims.take("cardcopy:a", now=T0) is None
    assert claims.take("cardcopy:a", now=T0 + LAPSE) is not None


def test_once_markers_still_never_lapse(object_store: ObjectStore) -> None:
    # Deliveries, clicks and notices keep at-most-once: a claim's stamp or retake of another key
    # does not touch them, and Once never reads a time.
    once = Once(object_store, PREFIX)
    assert once.first("delivery-1", at=T0) is True
    assert once.first("delivery-1", at=T0 + timedelta(days=365)) is False


def test_a_lapse_must_be_positive(object_store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="lapse must be positive"):
        LapsingClaims(object_store, PREFIX, lapse=timedelta(0))


def test_a_retake_whose_response_was_lost_is_still_ours(moto_endpoint: str) -> None:
    bucket = f"claims-{uuid.uuid4().hex[:12]}"
    plain = s3_client(moto_endpoint)
    plain.create_bucket(Bucket=bucket)
    flaky = s3_client(moto_endpoint)
    drop = LoseFirstResponse("If-Match")
    flaky.meta.events.register("before-send.s3.PutObject", drop)
    assert _claims(S3ObjectStore(plain, bucket)).take("cardcopy:a", now=T0) is not None
    # botocore retries the same If-Match put, and S3 answers 412 against our own retake.
    retaken = _claims(S3ObjectStore(flaky, bucket)).take("cardcopy:a", now=T0 + LAPSE)
    assert drop.dropped == [200]
    assert retaken is not None
    assert _marker(S3ObjectStore(plain, bucket), "cardcopy:a")["token"] == retaken.token
    assert _claims(S3ObjectStore(plain, bucket)).take("cardcopy:a", now=T0 + LAPSE) is None
