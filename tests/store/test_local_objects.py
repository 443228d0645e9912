"""LocalObjectStore specifics: key validation, atomic writes, nothing internal is listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.adapters.local_objects import InvalidKey, LocalObjectStore, etag_of, validate_key
from core.domain.errors import VersionConflict
from tests.store import race_workers


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside.json",
        "requests/../../x",
        "a//b",
        "a/./b",
        "a/b/",
        "nul\x00.json",
        "win\\path",
        ".locks/00.lock",
        ".tmp/x",
        "x" * 2000,
    ],
)
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path)
    with pytest.raises(InvalidKey):
        store.put(key, b"x")
    with pytest.raises(InvalidKey):
        store.get(key)
    assert not (tmp_path.parent / "outside.json").exists()


@pytest.mark.parametrize(
    "key", ["requests/req_1.json", "logs/req_1/2026-11-26T09:00:00.000000Z-1.json", "a/.b", "x..y"]
)
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


def test_layout_on_disk_mirrors_the_keys(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    etag = store.put("requests/req_1.json", b'{"id": "req_1"}')
    assert (tmp_path / "requests" / "req_1.json").read_bytes() == b'{"id": "req_1"}'
    assert etag == etag_of(b'{"id": "req_1"}')


def test_objects_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("chats/s1/turn.json", b"{}")
    store.put("requests/req_1.json", b"{}", if_none_match=True)
    for path in (tmp_path / "chats" / "s1" / "turn.json", tmp_path / "requests" / "req_1.json"):
        assert path.stat().st_mode & 0o777 == 0o600


def test_locks_and_temp_files_are_never_listed(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("a.json", b"1")
    store.put("requests/b.json", b"2", if_none_match=True)
    (tmp_path / ".stray").write_text("x")
    assert (tmp_path / ".locks").is_dir()
    assert list(store.list_keys("")) == ["a.json", "requests/b.json"]
    assert not any((tmp_path / ".tmp").iterdir())  # temp files renamed away or removed


def test_a_failed_condition_leaves_the_file_untouched(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("k.json", b"original")
    with pytest.raises(VersionConflict):
        store.put("k.json", b"other", if_match='"stale"')
    assert (tmp_path / "k.json").read_bytes() == b"original"


@pytest.mark.slow
def test_cas_holds_across_processes(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("counter", b"0")
    ctx = race_workers.context()
    workers = [ctx.Process(target=race_workers.increment, args=(str(tmp_path), 100)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    found = store.get("counter")
    assert found is not None and found.body == b"300"
