"""``bot.s3_client``: botocore's S3 client without boto3's additions and without the other
services' endpoint rows resolves, configures and works exactly as ``boto3.client("s3")``."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bot.s3_client import load_json, s3_client, s3_only, s3_session
from core.adapters.s3_objects import S3ObjectStore

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-7", "cn-north-1", "us-gov-west-1", "us-iso-east-1")


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DATA_PATH", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize("region", REGIONS)
def test_it_resolves_every_partition_as_boto3_does(region: str) -> None:
    lean, full = s3_client(region), boto3.client("s3", region_name=region)
    assert (lean.meta.endpoint_url, lean.meta.region_name, lean.meta.partition) == (
        full.meta.endpoint_url,
        full.meta.region_name,
        full.meta.partition,
    )
    url = lean.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    assert (
        url.split("?")[0] == full.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}).split("?")[0]
    )


def test_aws_endpoint_url_s3_still_points_it_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566")
    assert s3_client("us-east-1").meta.endpoint_url == "http://127.0.0.1:4566"


def test_its_session_keeps_only_s3s_endpoint_rows() -> None:
    import botocore.session

    kept = s3_session().get_component("data_loader").load_data("endpoints")
    whole = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    assert len(whole["partitions"][0]["services"]) > 100  # a default session still reads it all
    assert len(kept["partitions"]) == len(whole["partitions"])
    for before, after in zip(whole["partitions"], kept["partitions"], strict=True):
        assert list(after["services"]) == (["s3"] if "s3" in before["services"] else [])
        assert after["services"].get("s3") == before["services"].get("s3")
        assert {k: v for k, v in after.items() if k != "services"} == {
            k: v for k, v in before.items() if k != "services"
        }


def test_an_unexpected_table_is_kept_whole() -> None:
    assert s3_only({"version": 3}) == {"version": 3}
    assert s3_only(["x"]) == ["x"]


def test_the_stores_work_through_it() -> None:
    with mock_aws():
        client = s3_client("us-east-1")
        client.create_bucket(Bucket="tfpilot-lean-client")
        objects = S3ObjectStore(client, "tfpilot-lean-client")
        objects.put("requests/a.json", b"{}", if_none_match=True)
        stored = objects.get("requests/a.json")
        assert stored is not None and stored.body == b"{}"
        assert list(objects.list_keys("requests/")) == ["requests/a.json"]
        objects.delete("requests/a.json")
        assert objects.get("requests/a.json") is None


@pytest.mark.parametrize("name", ["s3/2006-03-01/service-2", "s3/2006-03-01/endpoint-rule-set-1", "_retry", "nope"])
def test_data_files_read_as_botocore_reads_them(name: str) -> None:
    from pathlib import Path

    import botocore
    from botocore.loaders import JSONFileLoader

    path = str(Path(botocore.__file__).parent / "data" / name)
    mine, theirs = load_json(path), JSONFileLoader().load_file(path)
    assert mine == theirs and (mine is None) == (name == "nope")
    if mine is not None:
        assert list(mine) == list(theirs)  # the same order


def test_its_session_knows_s3_alone() -> None:
    from botocore.exceptions import UnknownServiceError

    session = s3_session()
    assert session.get_component("data_loader").list_available_services("service-2") == ["s3"]
    with pytest.raises(UnknownServiceError):
        session.create_client("sqs", region_name="us-east-1")
