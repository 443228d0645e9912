"""``/tfpilot`` subcommands, one by one, through signed requests and the fake Slack: what each
answers (ephemerally, through the command's response_url) and what it refuses."""

from __future__ import annotations

import json

from bot.listeners.commands import parse_list_args
from core.domain.status import Status
from tests.slack.fake_slack import Call
from tests.slack.harness import APPROVER, DEV, Harness
from tests.slack.helpers import create_request


def _answer(h: Harness, user: str, text: str, **kw: str) -> Call:
    before = len(h.fake.of("response_url"))
    assert h.command(user, text, **kw).status == 200
    call = h.fake.wait_for("response_url", before + 1)[before]
    assert call.params.get("response_type") == "ephemeral"
    return call


def _others_request(h: Harness):
    """A request by someone else (the approver), still planning."""
    from core.domain.request import Requester, SlackThread
    from core.services.commands import CreateRequest

    cmd = CreateRequest(
        project="core",
        environment="dev",
        module="sqs-queue",
        config={"name": "jobs"},
        requester=Requester(id=APPROVER, team_id="T111"),
        slack=SlackThread(team_id="T111", channel="C0CARDS01"),
    )
    return h.deps.requests.create(cmd)


def test_list_scopes_and_status_filters(harness: Harness) -> None:
    h = harness
    mine = create_request(h)
    h.finish_run(mine.id, "plan")  # plan_ready: waiting for an approver
    theirs = _others_request(h)  # planning
    listed = _answer(h, DEV, "list").text()
    assert mine.id in listed and theirs.id not in listed and "My requests" in listed
    explicit = _answer(h, DEV, "list mine").text()
    assert mine.id in explicit and theirs.id not in explicit
    everyone = _answer(h, DEV, "list all").text()
    assert mine.id in everyone and theirs.id in everyone
    pending = _answer(h, APPROVER, "list pending").text()
    assert mine.id in pending and theirs.id not in pending and "Waiting for an approver" in pending
    planning = _answer(h, DEV, "list all planning").text()
    assert theirs.id in planning and mine.id not in planning and "planning" in planning
    plan_ready = _answer(h, DEV, "list plan-ready").text()  # dashes read as underscores; scope mine
    assert mine.id in plan_ready
    bad = _answer(h, DEV, "list everything").text()
    assert "Unknown filter(s): everything" in bad and mine.id not in bad


def test_parse_list_args() -> None:
    assert parse_list_args([]) == ("mine", None, [])
    scope, statuses, unknown = parse_list_args(["pending"])
    assert unknown == []
    assert scope == "pending" and statuses == {Status.PLAN_READY.value, Status.APPROVED.value, Status.MERGED.value}
    assert parse_list_args(["ALL", "Failed", "x"]) == ("all", frozenset({"failed"}), ["x"])


def test_status_shows_the_card_or_says_why_not(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    card = _answer(h, DEV, f"status {request.id}")
    assert card.params["blocks"][0]["type"] == "header" and "req:approve" in card.text()
    assert "Usage: `/tfpilot status <request id>`" in _answer(h, DEV, "status").text()
    assert "Usage" in _answer(h, DEV, "status ../../etc/passwd").text()
    assert "No request `req_unknown123`" in _answer(h, DEV, "status req_unknown123").text()


def test_modules_insights_help_and_unknown(harness: Harness) -> None:
    h = harness
    modules = _answer(h, DEV, "modules").text()
    for module in h.deps.registry.modules():
        assert f"`{module.id}`" in modules
    create_request(h)
    insights = _answer(h, DEV, "insights").text()
    assert "Insights" in insights and "*Requests*\\n1" in insights and "Applies (24h / 7d)" in insights
    helped = _answer(h, DEV, "help").text()
    for verb in ("new", "list", "status", "modules", "insights", "link", "unlink", "help"):
        assert f"/tfpilot {verb}" in helped
    bare = _answer(h, DEV, "").text()  # a bare /tfpilot is help
    assert "/tfpilot list" in bare and "Unknown" not in bare
    unknown = _answer(h, DEV, "deploy <!channel>").text()
    assert "Unknown command `deploy`" in unknown and "/tfpilot new" in unknown


def test_link_without_a_public_url_says_it_is_not_configured(harness: Harness) -> None:
    harness.deps.settings.public_url = None
    assert "not configured" in _answer(harness, DEV, "link").text()
    assert not list(harness.deps.objects.list_keys("oauth/states/"))


def test_new_with_free_text_starts_a_thread_and_reads_the_text(harness: Harness) -> None:
    h = harness
    assert h.command(DEV, "new an s3 bucket called assets in core dev", channel="C0CHAN001").status == 200
    opener, reply = h.fake.wait_for("chat.postMessage", 2)[:2]
    assert opener.params["channel"] == "C0CHAN001" and f"<@{DEV}> started a TfPilot request" in opener.text()
    assert reply.params["thread_ts"] == h.fake.messages[("C0CHAN001", reply.params["thread_ts"])]["ts"]
    turns = [e.text for e in h.deps.chat_log.entries if e.role == "user"]
    assert turns == ["an s3 bucket called assets in core dev"]


def test_new_in_a_channel_the_app_is_not_in_continues_in_a_dm(harness: Harness) -> None:
    h = harness
    h.fake.fail_next("chat.postMessage", 200, error="not_in_channel")
    h.command(DEV, "new", channel="C0PRIVATE")
    h.fake.wait_for("conversations.open")
    posted = [c for c in h.fake.wait_for("chat.postMessage", 3) if "_failed" not in c.params]
    assert posted[0].params["channel"] == f"D{DEV}" and "thread_ts" not in posted[0].params
    assert posted[1].params["channel"] == f"D{DEV}" and posted[1].params["thread_ts"]


def test_a_command_without_a_user_is_refused(harness: Harness) -> None:
    h = harness
    parsed = h.fixture("slash_command.json")
    from urllib.parse import urlencode

    parsed.update(
        {"command": "/tfpilot", "text": "new a bucket", "user_id": "", "response_url": h.fake.response_url("nouser")}
    )
    assert h.send(urlencode(parsed), "application/x-www-form-urlencoded").status == 200
    call = h.fake.wait_for("response_url")[0]
    assert "who sent" in call.text()
    h.fake.settle()
    assert not h.fake.of("chat.postMessage") and not h.deps.chat_log.entries


def test_answers_fit_slacks_limits(harness: Harness) -> None:
    from bot.views.limits import check_blocks

    h = harness
    for _ in range(3):
        create_request(h, name=f"b{_}")
    for text in ("help", "modules", "insights", "list all", "frobnicate"):
        call = _answer(h, DEV, text)
        message = {"text": call.params.get("text"), "blocks": call.params.get("blocks")}
        assert check_blocks(message, "message") == [], (text, json.dumps(message)[:200])


def test_unlink_forgets_the_users_linked_account_and_token(harness: Harness) -> None:
    import json as _json

    from bot.identity import identity_key
    from tests.slack.harness import TEAM

    h = harness
    key = identity_key(TEAM, DEV)
    h.deps.objects.put(key, _json.dumps({"github_login": "dev-gh", "token": "encrypted"}).encode())
    assert "unlinked" in _answer(h, DEV, "unlink").text()
    assert h.deps.objects.get(key) is None
    assert "nothing to unlink" in _answer(h, DEV, "unlink").text()
