"""Scripted conversations through ``IntakeService`` (rules extractor): every flow feature."""

from __future__ import annotations

from tests.assistant.conftest import USER, World


def test_one_shot_request_reaches_confirm_in_one_turn_and_submits_in_two(world: World) -> None:
    chat = world.chat()
    reply = chat.say("I need an s3 bucket called team-logs in payments dev with versioning off")
    assert chat.session.step == "confirm"
    assert chat.session.config == {"name": "team-logs", "versioning": False}
    assert reply.request_id is not None and reply.request_id.startswith("req_")
    assert reply.terraform is not None and f"tfpilot:begin {reply.request_id}" in reply.terraform
    assert [c.value for c in reply.choices][:2] == ["submit", "cancel"]
    assert "Optional settings" in reply.text and "private-encrypted" in reply.text

    done = chat.say("submit")
    assert done.done and done.submitted
    assert done.request_id == reply.request_id
    assert done.link == "https://github.example/acme/payments-infra/pull/1"
    assert chat.session.step == "submitted"
    [cmd] = world.requests.commands
    assert (cmd.project, cmd.environment, cmd.module) == ("payments", "dev", "s3-bucket")
    assert cmd.config["versioning"] is False and cmd.config["storage_class"] == "STANDARD"  # defaults applied
    assert cmd.idempotency_key == chat.session.id
    assert cmd.request_id == reply.request_id
    assert cmd.slack is not None and cmd.slack.channel == "D123" and cmd.slack.team_id == "T1"
    assert cmd.requester.id == USER.id


def test_missing_values_are_asked_one_at_a_time(world: World) -> None:
    world.requests.prod_allowed.add(USER.id)  # prod is offered only to those who may use it
    chat = world.chat()
    reply = chat.say("need a queue")
    assert chat.session.module == "sqs-queue" and chat.session.step == "project"
    assert [c.value for c in reply.choices] == ["payments", "core"]
    reply = chat.say("core")
    assert chat.session.step == "environment"
    assert [c.value for c in reply.choices] == ["dev", "staging", "prod"]
    reply = chat.say("staging")
    assert chat.session.step == "config" and chat.session.pending_field == "name"
    assert reply.question == "name" and "Queue name" in reply.text
    reply = chat.say("orders-events")
    assert chat.session.pending_field == "visibility_timeout_seconds"
    assert "(in seconds)" in reply.text and "at most 43200" in reply.text
    reply = chat.say("2 minutes")
    assert chat.session.step == "confirm"
    assert chat.session.config == {"name": "orders-events", "visibility_timeout_seconds": 120}


def test_enum_choices_are_offered_for_a_required_enum(world: World) -> None:
    chat = world.chat()
    reply = chat.say("an ec2 instance named build-box in payments dev")
    assert chat.session.pending_field == "instance_type"
    assert [c.value for c in reply.choices] == ["t3.micro", "t3.small", "m5.large"]
    reply = chat.say("t3 small")  # fuzzy
    assert chat.session.config["instance_type"] == "t3.small"
    assert chat.session.step == "confirm"


def test_default_choice_is_offered_and_understood(world: World) -> None:
    chat = world.chat()
    chat.say("bucket logs-archive in payments dev")
    reply = chat.say("storage class = hot")
    assert chat.session.pending_field == "storage_class"
    assert "storage_class" in reply.field_errors
    assert "STANDARD" in reply.text
    values = [c.value for c in reply.choices]
    assert values[:3] == ["STANDARD", "INTELLIGENT_TIERING", "GLACIER"] and "default" in values
    chat.say("default")
    assert chat.session.step == "confirm" and "storage_class" not in chat.session.config


def test_validation_error_is_explained_then_fixed(world: World) -> None:
    chat = world.chat()
    reply = chat.say("bucket in payments dev called Bad_Name!")
    assert chat.session.step == "config" and chat.session.pending_field == "name"
    assert "name" not in chat.session.config  # only valid values are kept
    assert "Name:" in reply.text and "does not match" in reply.text
    assert "name" in reply.field_errors
    reply = chat.say("good-name")
    assert chat.session.step == "confirm" and chat.session.config["name"] == "good-name"
    assert reply.field_errors == {}


def test_out_of_range_number_is_explained(world: World) -> None:
    chat = world.chat()
    chat.say("bucket logs-x in payments dev")
    reply = chat.say("set expiration_days = 5000")
    assert chat.session.pending_field == "expiration_days"
    assert "5000" in reply.text and "maximum" in reply.text.lower()
    chat.say("90")
    assert chat.session.config["expiration_days"] == 90 and chat.session.step == "confirm"


def test_change_x_to_y_and_set_x_equals_y_at_confirm(world: World) -> None:
    chat = world.chat()
    first = chat.say("queue orders-q in core dev, visibility timeout 30 seconds")
    assert chat.session.step == "confirm" and chat.session.config["visibility_timeout_seconds"] == 30
    reply = chat.say("change visibility timeout to 2 minutes")
    assert chat.session.config["visibility_timeout_seconds"] == 120
    assert chat.session.step == "confirm"
    assert reply.request_id == first.request_id  # the reserved id is kept
    chat.say("set fifo = yes")
    assert chat.session.config["fifo"] is True
    chat.say("change environment to staging")
    assert chat.session.environment == "staging" and chat.session.step == "confirm"


def test_back_undoes_the_last_turn(world: World) -> None:
    chat = world.chat()
    chat.say("queue orders-q in core dev, visibility timeout 30 seconds")
    chat.say("set fifo = yes")
    assert chat.session.config.get("fifo") is True
    reply = chat.say("back")
    assert "Went back" in reply.text
    assert "fifo" not in chat.session.config and chat.session.step == "confirm"
    chat.say("back")
    assert chat.session.step == "project" and chat.session.config == {}
    reply = chat.say("back")
    assert "nothing to go back to" in reply.text.lower()


def test_cancel_ends_without_creating_and_a_new_message_starts_fresh(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    first_id = chat.session.id
    reply = chat.say("cancel")
    assert reply.done and chat.session.step == "cancelled"
    assert world.requests.commands == []
    chat.say("a queue named jobs-q in core dev")
    assert chat.session.id != first_id
    assert chat.session.module == "sqs-queue" and chat.session.project == "core"


def test_start_over_clears_everything_with_a_new_session_id(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    first = chat.session
    reply = chat.say("start over")
    assert "Starting over" in reply.text
    fresh = chat.session
    assert fresh.id != first.id and fresh.step == "project"
    assert fresh.project is None and fresh.config == {} and fresh.request_id is None


def test_show_terraform_before_and_at_confirm(world: World) -> None:
    chat = world.chat()
    chat.say("bucket in payments dev")
    reply = chat.say("show terraform")
    assert reply.terraform is None and chat.session.pending_field == "name"
    chat.say("team-logs")
    reply = chat.say("show me the terraform")
    assert reply.terraform is not None and 'name = "team-logs"' in reply.terraform
    assert "This is the Terraform" in reply.text


def test_submit_before_confirm_is_refused_and_asks_what_is_missing(world: World) -> None:
    chat = world.chat()
    chat.say("bucket in payments dev")
    reply = chat.say("submit")
    assert "Not ready to submit" in reply.text
    assert chat.session.pending_field == "name" and "name" not in chat.session.config
    assert world.requests.commands == []


def test_changing_a_value_and_submitting_in_one_message_shows_confirm_again(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    reply = chat.say("set versioning = off and submit")
    assert chat.session.step == "confirm" and chat.session.config["versioning"] is False
    assert world.requests.commands == [] and not reply.done
    assert chat.say("yes").submitted


def test_presets_by_name(world: World) -> None:
    chat = world.chat()
    reply = chat.say("bucket team-logs in payments dev with the private-encrypted preset")
    assert "Applied preset `private-encrypted`" in reply.text
    assert chat.session.config["storage_class"] == "INTELLIGENT_TIERING"
    reply = chat.say("use preset turbo")
    assert "no preset `turbo`" in reply.text


def test_explicit_values_win_over_the_preset(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev, use preset private-encrypted, storage_class=GLACIER")
    assert chat.session.config["storage_class"] == "GLACIER"


def test_unknown_field_is_named_with_the_real_fields(world: World) -> None:
    chat = world.chat()
    chat.say("queue orders-q in core dev, visibility timeout 30s")
    reply = chat.say("set colour = blue")
    assert "has no field 'colour'" in reply.text and "`visibility_timeout_seconds`" in reply.text
    assert "colour" not in chat.session.config


def test_prod_constraint_is_explained_and_asked_again(world: World) -> None:
    world.requests.prod_allowed.add(USER.id)
    chat = world.chat()
    reply = chat.say("bucket team-logs in payments prod with force destroy")
    assert chat.session.pending_field == "force_destroy"
    assert "force_destroy" not in chat.session.config
    assert "must be false in prod" in reply.text
    assert [c.value for c in reply.choices][:2] == ["yes", "no"]
    chat.say("no")
    assert chat.session.step == "confirm" and chat.session.config["force_destroy"] is False


def test_switching_to_prod_revalidates_values_given_earlier(world: World) -> None:
    world.requests.prod_allowed.add(USER.id)
    chat = world.chat()
    chat.say("bucket team-logs in payments dev with force destroy")
    assert chat.session.config["force_destroy"] is True and chat.session.step == "confirm"
    reply = chat.say("change environment to prod")
    assert chat.session.environment == "prod" and chat.session.pending_field == "force_destroy"
    assert "must be false in prod" in reply.text


def test_prod_permission_refusal_is_explained_and_the_session_stays(world: World) -> None:
    # Issue 15: the prod allowlist is checked when prod is chosen, not after every question.
    chat = world.chat()
    reply = chat.say("bucket team-logs in payments prod")
    assert not reply.done and "can't request changes in payments/prod" in reply.text and "prod allowlist" in reply.text
    assert chat.session.step == "environment" and chat.session.module == "s3-bucket"
    assert "prod" not in [c.value for c in reply.choices]
    assert chat.session.config == {"name": "team-logs"}
    chat.say("dev")
    assert chat.say("submit").submitted
    assert world.requests.created[chat.session.id].environment == "dev"


def test_prod_allowed_user_can_submit(world: World) -> None:
    world.requests.prod_allowed.add(USER.id)
    chat = world.chat()
    chat.say("bucket team-logs in payments production")
    assert chat.session.environment == "prod"
    assert chat.say("confirm").submitted


def test_double_submit_never_creates_twice(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    first = chat.say("submit")
    second = chat.say("submit")
    assert first.request_id == second.request_id and second.done
    assert len(world.requests.commands) == 1 and len(world.requests.created) == 1


def test_a_submit_that_fails_midway_is_retried_with_the_same_key(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    world.requests.fail_with = RuntimeError("github is down")
    reply = chat.say("submit")
    assert "try again" in reply.text and chat.session.step == "confirm"
    world.requests.fail_with = None
    assert chat.say("submit").submitted
    keys = {c.idempotency_key for c in world.requests.commands}
    ids = {c.request_id for c in world.requests.commands}
    assert len(keys) == 1 and len(ids) == 1


def test_module_switch_keeps_shared_fields(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    reply = chat.say("actually make it a queue")
    assert chat.session.module == "sqs-queue"
    assert chat.session.config == {"name": "team-logs"}
    assert "dropped" not in reply.text
    assert chat.session.pending_field == "visibility_timeout_seconds"


def test_help_lists_the_commands_and_repeats_the_question(world: World) -> None:
    chat = world.chat()
    reply = chat.say("help")
    assert "start over" in reply.text and "Which project" in reply.text


def test_form_submission_valid_and_invalid(world: World) -> None:
    chat = world.chat()
    reply = chat.say("a queue in core dev")
    assert reply.form is not None and reply.form.module == "sqs-queue"
    kinds = {f.name: f.kind for f in reply.form.fields}
    assert kinds == {
        "name": "text",
        "fifo": "boolean",
        "visibility_timeout_seconds": "integer",
        "message_retention_seconds": "integer",
    }
    before = chat.session
    bad = chat.form({"name": "Bad Name", "visibility_timeout_seconds": "lots", "fifo": "true"})
    assert set(bad.field_errors) == {"visibility_timeout_seconds"}
    assert chat.session.config == before.config  # unchanged
    bad = chat.form({"name": "Bad Name", "visibility_timeout_seconds": "30"})
    assert set(bad.field_errors) == {"name"}
    good = chat.form(
        {"name": "jobs-q", "visibility_timeout_seconds": "45", "fifo": "false", "message_retention_seconds": ""}
    )
    assert good.field_errors == {} and chat.session.step == "confirm"
    assert chat.session.config == {"name": "jobs-q", "visibility_timeout_seconds": 45, "fifo": False}
    assert chat.say("submit").submitted


def test_config_rejected_by_the_core_is_explained_field_by_field(world: World) -> None:
    from module_registry.errors import ConfigRejected
    from module_registry.result import FieldError

    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    world.requests.fail_with = ConfigRejected([FieldError(field="name", message="is already taken", allowed=None)])
    reply = chat.say("submit")
    assert "registry rejected the configuration" in reply.text and "is already taken" in reply.text
    assert reply.field_errors == {"name": "is already taken"}
    assert chat.session.step == "confirm" and not reply.done


def test_preview_failure_is_shown_and_submit_is_not_offered(world: World) -> None:
    from module_registry.errors import ConfigRejected
    from module_registry.result import FieldError

    def broken_preview(cmd: object) -> dict[str, str]:
        raise ConfigRejected([FieldError(field="name", message="would be too long for a bucket")])

    world.requests.preview = broken_preview  # type: ignore[method-assign]
    chat = world.chat()
    reply = chat.say("bucket team-logs in payments dev")
    assert "could not render the Terraform" in reply.text and "too long" in reply.text
    assert reply.terraform is None and [c.value for c in reply.choices] == ["cancel"]
    reply = chat.say("submit")
    assert not reply.done and world.requests.commands == []


def test_back_right_after_cancel_picks_the_request_up_again(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    session_id = chat.session.id
    chat.say("cancel")
    reply = chat.say("back")
    assert "Un-cancelled" in reply.text and not reply.done
    assert chat.session.step == "confirm" and chat.session.id == session_id
    assert chat.say("submit").submitted
