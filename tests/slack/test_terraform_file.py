"""The confirm step's Terraform in Slack: one file per version, shared where the conversation is
(through Slack's three upload calls on the fake Web API), referred to by the reply; an edit shows
what changed; an upload Slack refuses leaves a short quote and a note, never a lost reply."""

from __future__ import annotations

import json
from typing import Any

from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import DEV, Harness
from tests.slack.helpers import eventually

DM = f"D{DEV[1:]}"
REQUEST = "I need an s3 bucket called team-logs in core dev"


def _replies(h: Harness) -> list[Any]:
    return [c for c in h.fake.of("chat.postMessage") if c.params.get("channel") == DM and "_failed" not in c.params]


def _say(h: Harness, text: str, count: int, ts: str) -> str:
    h.dm(DEV, text, ts=ts)
    reply = eventually(lambda: len(_replies(h)) >= count and _replies(h), what=f"reply {count}")[count - 1]
    return str(reply.text())


def _completed(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.of("files.completeUploadExternal") if "_failed" not in c.params]


def test_the_terraform_is_one_file_per_version_and_the_reply_refers_to_it(harness: Harness) -> None:
    h = harness
    confirm = _say(h, REQUEST, 1, "1700000000.700001")
    # Slack's three steps, in order: the URL, the bytes, the completion sharing it in the DM.
    steps = [c.method for c in h.fake.calls if c.method in ("files.getUploadURLExternal", "upload")]
    assert steps == ["files.getUploadURLExternal", "upload"] and len(_completed(h.fake)) == 1
    shared = next(iter(h.fake.files.values()))
    assert shared["channel"] == DM and shared["name"].startswith("tfpilot_req_") and shared["name"].endswith(".tf")
    request_id = shared["name"].removeprefix("tfpilot_").removesuffix(".tf")
    assert f"# tfpilot:begin {request_id}" in shared["content"] and "team-logs" in shared["content"]
    # The reply names the file and quotes none of it.
    assert shared["name"] in confirm and "tfpilot:begin" not in confirm and "```" not in confirm

    edit = _say(h, "change versioning to off", 2, "1700000000.700002")
    assert "What changed in the Terraform" in edit and "tfpilot:begin" not in edit
    assert len(_completed(h.fake)) == 1  # an edit shows the change, it uploads nothing

    shown = _say(h, "show terraform", 3, "1700000000.700003")
    assert len(_completed(h.fake)) == 2  # the new version, once
    assert shared["name"] in shown and "attached above" in shown
    again = _say(h, "show terraform", 4, "1700000000.700004")
    assert len(_completed(h.fake)) == 2 and "already in this conversation" in again
    versions = [f["content"] for f in h.fake.files.values()]
    assert versions[0] != versions[1]


def test_an_upload_slack_refuses_leaves_the_start_of_the_terraform_and_a_note(harness: Harness) -> None:
    h = harness
    h.fake.fail_next("upload", 500)
    confirm = _say(h, REQUEST, 1, "1700000000.710001")
    assert h.fake.files == {}
    assert "I could not attach the Terraform as a file" in confirm and "tfpilot:begin" in confirm
    blocks = json.dumps(_replies(h)[0].params["blocks"])
    assert len(blocks) < 4000  # a short quote, not the whole files


def test_a_completion_refused_for_membership_is_told_and_nothing_is_remembered(harness: Harness) -> None:
    h = harness
    h.fake.fail_next("files.completeUploadExternal", 200, error="not_in_channel")
    first = _say(h, REQUEST, 1, "1700000000.720001")
    assert "Slack said `not_in_channel`" in first
    # Shown again, the same version is uploaded now: a refused upload was not recorded as done.
    _say(h, "show terraform", 2, "1700000000.720002")
    assert len(_completed(h.fake)) == 1 and len(h.fake.files) == 1


def test_the_fake_checks_the_upload_steps_as_slack_does(fake_slack: FakeSlack) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token="xoxb-test", base_url=fake_slack.api_url)

    def error(call: Any) -> str:
        try:
            call()
        except SlackApiError as exc:
            return str(exc.response["error"])
        return "ok"

    assert error(lambda: client.files_getUploadURLExternal(filename="x.tf", length=0)) == "invalid_arguments"
    url = client.files_getUploadURLExternal(filename="x.tf", length=3)
    never_uploaded = [{"id": url["file_id"], "title": "x"}]
    assert error(lambda: client.files_completeUploadExternal(files=never_uploaded)) == "file_not_found"
    fake_slack.add_channel("C0PRIVATE", private=True)
    response = client.files_upload_v2(channel="C0OPEN001", content="abc", filename="y.tf", title="y")
    assert response["files"][0]["title"] == "y" and fake_slack.files[response["files"][0]["id"]]["content"] == "abc"
    assert error(lambda: client.files_upload_v2(channel="C0PRIVATE", content="abc", filename="z.tf")) == (
        "channel_not_found"
    )


def test_in_a_channel_the_file_goes_into_the_conversations_thread(harness: Harness) -> None:
    h = harness
    event = h.fixture("events_api_app_mention.json")["event"]
    event.update({"user": DEV, "text": f"<@UTFPILOT> {REQUEST}", "channel": "C0CHAN001"})
    h.event(event)
    reply = h.fake.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "C0CHAN001")[0]
    shared = next(iter(h.fake.files.values()))
    assert (shared["channel"], shared["thread_ts"]) == ("C0CHAN001", event["ts"])
    assert reply.params["thread_ts"] == event["ts"] and shared["name"] in reply.text()
