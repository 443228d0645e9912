"""``tfpilot admin reindex``: rebuilds the list index through the composition root, on the local
data dir and on S3 (moto), naming every object it skips by its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from core.adapters.request_index import IndexProblem
from core.adapters.request_store import LocalRequestStore, ObjectRequestStore, ReindexReport, S3RequestStore
from core.domain.index import ListFilter
from tests.conftest import clear_settings
from tests.fakes import ManualClock
from tests.store.conftest import BUCKET
from tests.store.helpers import applied, make_request


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    # Only what each test sets: nothing from the developer's shell selects another storage.
    clear_settings(monkeypatch)
    monkeypatch.setenv("TFPILOT_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def _populate(store: ObjectRequestStore) -> None:
    store.create(make_request("req_adm00001", minutes=1))
    store.create(applied(make_request("req_adm00002", minutes=2, project="payments")))
    store.create(make_request("req_adm00003", minutes=3))
    store.archive("req_adm00003")
    store.objects.put("requests/req_adm00009.json", b'{"id": "req_adm00009", "project": ')
    store.objects.put("requests/README.txt", b"not a request")
    for key in list(store.objects.list_keys("index/")):
        store.objects.delete(key)  # the index is lost
    assert ObjectRequestStore(store.objects, ManualClock()).rows(ListFilter(include_archived=True)) == []


def test_reindex_rebuilds_the_local_index_and_names_what_it_skips(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalRequestStore(tmp_path / "data", ManualClock())
    _populate(store)

    assert main(["admin", "reindex"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"index of {tmp_path / 'data'} rebuilt: 3 request(s)"
    assert out[1] == "skipped 2 object(s) that are not readable request documents:"
    assert out[2].startswith("  requests/README.txt: foreign object")
    assert out[3].startswith("  requests/req_adm00009.json: ") and "Invalid JSON" in out[3]

    fresh = LocalRequestStore(tmp_path / "data", ManualClock())
    rows = {row.id: row for row in fresh.rows(ListFilter(include_archived=True))}
    assert set(rows) == {"req_adm00001", "req_adm00002", "req_adm00003"}
    assert rows["req_adm00002"].status == "applied" and rows["req_adm00003"].archived
    assert [row.id for row in fresh.list().rows] == ["req_adm00002", "req_adm00001"]


def test_reindex_json_on_s3(env: pytest.MonkeyPatch, s3_client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("TFPILOT_REQUESTS_BUCKET", BUCKET)
    store = S3RequestStore(s3_client, BUCKET, ManualClock())
    _populate(store)

    assert main(["admin", "reindex", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["ok"], doc["complete"], doc["storage"], doc["rows"]) == (True, True, f"s3://{BUCKET}", 3)
    assert [(p["key"], p["rowId"]) for p in doc["problems"]] == [
        ("requests/README.txt", None),
        ("requests/req_adm00009.json", "req_adm00009"),
    ]
    assert {row.id for row in store.rows(ListFilter(include_archived=True))} == {
        "req_adm00001",
        "req_adm00002",
        "req_adm00003",
    }
    # Written like every index entry: SSE on the requests bucket.
    entry = next(iter(s3_client.list_objects_v2(Bucket=BUCKET, Prefix="index/")["Contents"]))["Key"]
    assert s3_client.head_object(Bucket=BUCKET, Key=entry)["ServerSideEncryption"] == "AES256"


def test_an_empty_store_reindexes_to_nothing(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", "reindex", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["rows"], doc["problems"], doc["storage"]) == (0, [], str(tmp_path / "data"))


def test_a_contended_rebuild_says_run_again(
    env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def contended(self: ObjectRequestStore) -> ReindexReport:
        return ReindexReport(rows=5, problems=[IndexProblem("requests/x.json", "broken")], complete=False)

    monkeypatch.setattr(ObjectRequestStore, "reindex", contended)
    assert main(["admin", "reindex"]) == 1
    captured = capsys.readouterr()
    assert "5 request(s)" in captured.out and "  requests/x.json: broken" in captured.out
    assert "run the command again" in captured.err
    assert main(["admin", "reindex", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_bad_settings_stop_it_before_anything_is_read(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("TFPILOT_REQUESTS_BUCKET", "s3://not-a-bucket-name")
    assert main(["admin", "reindex"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tfpilot cannot start in cli mode: malformed setting(s): TFPILOT_REQUESTS_BUCKET (")
    assert main(["admin", "reindex", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "TFPILOT_REQUESTS_BUCKET" in doc["error"]


def test_a_missing_bucket_is_a_clear_failure(
    env: pytest.MonkeyPatch, s3_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("TFPILOT_REQUESTS_BUCKET", "tfpilot-no-such-bucket")
    assert main(["admin", "reindex"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: reindex of s3://tfpilot-no-such-bucket failed: ") and "NoSuchBucket" in err
    assert "Traceback" not in err


def test_admin_without_a_command_prints_help(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin"]) == 2
    assert "reindex" in capsys.readouterr().out
