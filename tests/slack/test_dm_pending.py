"""``PendingDms``: the pointer from a DM to the intake waiting for an answer, written with
compare-and-swap so that concurrent writers never lose the latest one."""

from __future__ import annotations

import threading

from bot.listeners.dm_pending import PendingDm, PendingDms
from tests.fakes import InMemoryObjectStore


def test_point_get_and_clear() -> None:
    pending = PendingDms(InMemoryObjectStore())
    assert pending.get("T1", "D1") is None
    pending.point("T1", "D1", PendingDm("1700000000.000001", "U1"))
    assert pending.get("T1", "D1") == PendingDm("1700000000.000001", "U1")
    assert pending.get("T2", "D1") is None  # another workspace's DM is another pointer
    pending.point("T1", "D1", PendingDm("1700000000.000002", "U1"))
    pending.clear("T1", "D1", "1700000000.000001")  # an older conversation ends: the newer one stays
    assert pending.get("T1", "D1") == PendingDm("1700000000.000002", "U1")
    pending.clear("T1", "D1", "1700000000.000002")
    assert pending.get("T1", "D1") is None


def test_concurrent_writers_leave_one_of_their_pointers() -> None:
    objects = InMemoryObjectStore()
    pending = PendingDms(objects)
    wanted = [PendingDm(f"1700000000.{n:06d}", "U1") for n in range(16)]
    threads = [threading.Thread(target=pending.point, args=("T1", "D1", p)) for p in wanted]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pending.get("T1", "D1") in wanted
    assert list(objects.list_keys("sessions-dm/")) == ["sessions-dm/T1/D1.json"]


def test_crafted_ids_stay_under_the_prefix() -> None:
    objects = InMemoryObjectStore()
    PendingDms(objects).point("../../x", "D/../../y", PendingDm("1.2", "U1"))
    (key,) = list(objects.list_keys(""))
    parts = key.split("/")
    assert parts[0] == "sessions-dm" and len(parts) == 3 and not {"..", "."} & set(parts)
