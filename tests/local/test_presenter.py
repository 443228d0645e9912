"""The console presenter on sample Block Kit: readable text, numbered choices, colour only on a
TTY (and never with NO_COLOR), plus the console notifier printing card and thread reply."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from bot.console.notifier import ConsoleNotifier, ViewBuilders, fallback_card, fallback_reply
from bot.console.presenter import Presenter, colour_for, strip_ansi
from core.domain.request import PullRequestRef, Request, Requester, RunRef
from core.ports.notifier import Transition

CARD = {
    "text": "fallback",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": ":clipboard: s3-bucket · payments/dev"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Status*\n:clipboard: Plan ready"},
                {"type": "mrkdwn", "text": "*Requester*\n<@U012AB3CD>"},
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "See <https://github.com/acme/infra/pull/7|PR #7> &amp; the *plan*: +1 ~0 -0",
            },
        },
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "card:req_abc123def456",
            "elements": [
                {
                    "type": "button",
                    "action_id": "req:approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": "v1",
                },
                {
                    "type": "button",
                    "action_id": "req:destroy",
                    "text": {"type": "plain_text", "text": "Destroy"},
                    "style": "danger",
                },
                {"type": "button", "action_id": "req:replan", "text": {"type": "plain_text", "text": "Re-plan"}},
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Updated <!date^1700000000^{date_short_pretty}|2023-11-14 22:13 UTC>"}
            ],
        },
    ],
}


def test_card_renders_as_plain_readable_text_with_numbered_buttons() -> None:
    r = Presenter(colour=False, users={"U012AB3CD": "alice"}).render(CARD)
    assert "\x1b[" not in r.text
    lines = r.text.splitlines()
    assert lines[0] == "📋 s3-bucket · payments/dev"
    assert "Status: 📋 Plan ready" in r.text and "Requester: @alice" in r.text
    assert "See PR #7 (https://github.com/acme/infra/pull/7) & the plan: +1 ~0 -0" in r.text
    assert "[1] Approve  [2] Destroy  [3] Re-plan" in r.text
    assert "Updated 2023-11-14 22:13 UTC" in r.text
    assert [(c.number, c.action_id) for c in r.choices] == [(1, "req:approve"), (2, "req:destroy"), (3, "req:replan")]


@pytest.mark.parametrize(
    ("typed", "action"),
    [
        ("1", "req:approve"),
        ("approve", "req:approve"),
        ("Re-plan", "req:replan"),
        ("replan", "req:replan"),
        ("DESTROY", "req:destroy"),
    ],
)
def test_choices_are_picked_by_number_or_name(typed: str, action: str) -> None:
    choice = Presenter().render(CARD).pick(typed)
    assert choice is not None and choice.action_id == action


def test_unknown_or_ambiguous_picks_are_none() -> None:
    r = Presenter().render(CARD)
    assert r.pick("merge") is None and r.pick("9") is None and r.pick("") is None


def test_colour_is_used_only_when_asked() -> None:
    coloured = Presenter(colour=True).render(CARD).text
    assert "\x1b[32m" in coloured and "\x1b[31m" in coloured  # primary green, danger red
    assert strip_ansi(coloured) == Presenter(colour=False).render(CARD).text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_for_needs_a_tty_and_no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert colour_for(_Tty()) is True
    assert colour_for(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour_for(_Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert colour_for(_Tty()) is False


def test_mrkdwn_conversions() -> None:
    p = Presenter()
    assert p.mrkdwn("*bold* _it_ ~gone~ `code`") == "bold it gone `code`"
    assert p.mrkdwn("<https://x.io>") == "https://x.io"
    assert p.mrkdwn("<#C123|ops> <!here> <@W9>") == "#ops @here @W9"
    assert p.mrkdwn(":rocket: :not_an_emoji: 10:30:00") == "🚀 :not_an_emoji: 10:30:00"
    assert p.mrkdwn("a &lt;b&gt; 2*3*4") == "a <b> 2*3*4"
    assert Presenter(unicode=False).mrkdwn(":rocket:") == ":rocket:"


def test_modal_with_inputs_select_and_submit() -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "New S3 bucket"},
        "submit": {"type": "plain_text", "text": "Create"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": {"type": "plain_text", "text": "Bucket name"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "v",
                    "placeholder": {"type": "plain_text", "text": "logs"},
                },
                "hint": {"type": "plain_text", "text": "lowercase letters and dashes"},
            },
            {
                "type": "input",
                "block_id": "days",
                "optional": True,
                "label": {"type": "plain_text", "text": "Retention"},
                "element": {
                    "type": "number_input",
                    "is_decimal_allowed": False,
                    "action_id": "v",
                    "initial_value": "30",
                    "min_value": "1",
                    "max_value": "365",
                },
            },
            {
                "type": "input",
                "block_id": "versioning",
                "label": {"type": "plain_text", "text": "Versioning"},
                "element": {
                    "type": "static_select",
                    "action_id": "v",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Enabled"}, "value": "true"},
                        {"text": {"type": "plain_text", "text": "Disabled"}, "value": "false"},
                    ],
                },
            },
        ],
    }
    r = Presenter().render(modal)
    assert "▣ New S3 bucket" in r.text
    assert "▸ Bucket name: <logs>" in r.text and "lowercase letters and dashes" in r.text
    assert "▸ Retention (optional): [30] (min 1, max 365)" in r.text
    assert "[1] Enabled  [2] Disabled" in r.text
    assert r.text.splitlines()[-1] == "[3] Create  [4] Cancel"
    assert r.pick("enabled").value == "true"  # type: ignore[union-attr]
    assert r.pick("create").kind == "submit"  # type: ignore[union-attr]


def test_home_attachments_and_rich_text() -> None:
    home = {
        "type": "home",
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Hi "},
                            {"type": "user", "user_id": "U1"},
                            {"type": "emoji", "name": "wave"},
                        ],
                    }
                ],
            }
        ],
    }
    assert "Hi @bob👋" in Presenter(users={"U1": "bob"}).render(home).text
    msg = {
        "attachments": [
            {"color": "#4caf50", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "applied"}}]}
        ]
    }
    assert Presenter().render(msg).text == "▌ applied"
    assert "\x1b[38;2;76;175;80m" in Presenter(colour=True).render(msg).text
    assert (
        Presenter().render([{"type": "section", "text": {"type": "plain_text", "text": "bare list"}}]).text
        == "bare list"
    )


def test_numbering_can_continue_across_payloads() -> None:
    r = Presenter().render(CARD, number_from=4)
    assert [c.number for c in r.choices] == [4, 5, 6]


def _request() -> Request:
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    return Request(
        id="req_abc123def456",
        project="payments",
        environment="dev",
        module="s3-bucket",
        received_at=now,
        updated_at=now,
        requester=Requester(id="alice", name="Alice"),
        pr=PullRequestRef(number=1, open=True, url="file:///x/pulls/1.json", head_sha="a" * 40),
        plan_run=RunRef(run_id=1, status="completed", conclusion="success", head_sha="a" * 40),
    )


def test_console_notifier_prints_card_and_reply_and_remembers_buttons() -> None:
    out = io.StringIO()
    notifier = ConsoleNotifier(out)  # the Slack view builders
    request = _request()
    notifier.request_changed(request, Transition(event="plan_ready", previous_status="planning", status="plan_ready"))
    text = out.getvalue()
    assert "card req_abc123def456 · plan_ready" in text
    assert "↳" in text and "plan is ready" in text
    card = notifier.latest_card(request.id)
    assert card is not None and card.pick("approve") is not None
    assert [p.status for p in notifier.history] == ["plan_ready"]


def test_console_notifier_never_raises_and_falls_back() -> None:
    def broken(*_a: object, **_k: object) -> dict:
        raise RuntimeError("builder bug")

    out = io.StringIO()
    notifier = ConsoleNotifier(out, ViewBuilders(broken, broken))
    notifier.request_changed(
        _request(), Transition(event="approved", previous_status="plan_ready", status="approved", actor="bob")
    )
    assert "approved: plan_ready → approved" in out.getvalue()
    plain = ConsoleNotifier(io.StringIO(), ViewBuilders(fallback_card, fallback_reply))
    plain.request_changed(_request(), Transition(event="merged", previous_status="approved", status="merged"))
    assert plain.history[0].card.text.startswith("📋 Plan ready")


def test_code_fences_are_unwrapped_and_kept_verbatim() -> None:
    text = 'Terraform:\n```resource "a" "b" {\n  x = "*not bold*"\n}```\nSay *submit*'
    assert Presenter().mrkdwn(text) == 'Terraform:\nresource "a" "b" {\n  x = "*not bold*"\n}\nSay submit'


def test_a_number_picks_the_printed_choice_not_an_index_in_an_action_id() -> None:
    # Intake buttons carry their index in the action id (intake:choice:0, :1, ...): typing "1"
    # must pick what is printed as [1], not also the second button.
    buttons = [
        {"type": "button", "action_id": f"intake:choice:{i}", "text": {"type": "plain_text", "text": env}, "value": env}
        for i, env in enumerate(["dev", "staging", "prod"])
    ]
    r = Presenter().render([{"type": "actions", "block_id": "intake:1", "elements": buttons}])
    assert [(c.number, c.label) for c in r.choices] == [(1, "dev"), (2, "staging"), (3, "prod")]
    for typed, label in [("1", "dev"), ("2", "staging"), ("3", "prod"), ("staging", "staging")]:
        picked = r.pick(typed)
        assert picked is not None and picked.label == label
    assert r.pick("0") is None and r.pick("4") is None


def test_a_buttons_confirmation_dialog_travels_with_its_choice() -> None:
    button = {
        "type": "button",
        "action_id": "req:merge",
        "text": {"type": "plain_text", "text": "Merge"},
        "confirm": {
            "title": {"type": "plain_text", "text": "Merge the pull request?"},
            "text": {"type": "mrkdwn", "text": "Squash-merge PR #7 into `main`."},
            "confirm": {"type": "plain_text", "text": "Merge"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }
    plain = {"type": "button", "action_id": "req:replan", "text": {"type": "plain_text", "text": "Re-plan"}}
    r = Presenter(colour=True).render([{"type": "actions", "elements": [button, plain]}])
    assert r.choices[0].confirm == "Merge the pull request? Squash-merge PR #7 into `main`."
    assert r.choices[1].confirm is None
