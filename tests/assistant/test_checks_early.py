"""Issue 15 (item 4): a conversation that checks early and never guesses silently, over the real
registry, projects map, policy and core services (``core`` fixture: the composition root)."""

from __future__ import annotations

import io
from pathlib import Path

from tests.assistant.conftest import DEV, PROD, Core


# --- eligibility at the moment of choice -------------------------------------------------------
def test_prod_outside_the_allowlist_is_refused_when_prod_is_chosen(core: Core) -> None:
    chat = core.chat(DEV)
    reply = chat.say("sqs queue ledger-events in core prod")
    assert "\nYou can't request changes in core/prod: requests in prod need the prod allowlist.\n" in reply.text
    assert chat.session.step == "environment" and chat.session.environment is None
    assert [c.value for c in reply.choices] == ["dev", "staging"]  # prod is not offered
    assert chat.session.config == {"name": "ledger-events"}  # what was said is kept
    assert chat.say("staging").step == "confirm"


def test_a_module_not_allowed_says_where_it_is_available_as_soon_as_it_is_known(core: Core) -> None:
    chat = core.chat(DEV)
    reply = chat.say("ecr repository in payments")  # no environment yet
    assert "is not available in payments; it is available in core/dev, core/staging, core/prod." in reply.text
    assert chat.session.module is None


# --- values from free text: unambiguous or confirmed -----------------------------------------
def test_names_come_only_after_a_name_cue_including_typos_and_foreign_cues(core: Core) -> None:
    for said, name in (
        ("quiero un bucket s3 llamado facturas-2024 en core dev", "facturas-2024"),
        ("s3 bukcet callled team-logs in core dev", "team-logs"),
    ):
        chat = core.chat(DEV, thread=f"t-{name}")
        chat.say(said)
        assert chat.session.config.get("name") == name, said
    chat = core.chat(DEV, thread="t-bukcet")
    reply = chat.say("s3 bukcet in core dev")
    assert "name" not in chat.session.config and reply.question == "name"  # never the misspelt word


def test_a_near_miss_option_is_asked_never_substituted(core: Core) -> None:
    chat = core.chat(DEV)
    reply = chat.say(
        "rds postgres billing-db in core dev, class db.t3.micro, subnets subnet-0a1b2c3d subnet-0e5f6a7b, sg sg-0123abcd"
    )
    assert reply.question == "instance_class" and "instance_class" not in chat.session.config
    assert "`db.t3.micro` is not offered here; the nearest option is `db.t4g.micro`" in reply.text
    assert reply.choices[0].value == "db.t4g.micro"


def test_a_number_binds_to_the_field_it_is_said_about(core: Core) -> None:
    chat = core.chat(DEV)
    chat.say("sqs queue retry-jobs in core dev, dead-letter after 3 failed receives")
    assert chat.session.config["max_receive_count"] == 3
    assert "receive_wait_time_seconds" not in chat.session.config


def test_something_not_in_the_catalogue_is_said_plainly(core: Core) -> None:
    for said, what in (
        ("redis server in core dev", "a redis server"),
        ("I need a Kubernetes cluster", "a Kubernetes cluster"),
    ):
        chat = core.chat(DEV, thread=f"t-{what}")
        reply = chat.say(said)
        assert reply.text.startswith(f"I can't create {what}: it is not in the catalogue.\nI can create"), said
        assert chat.session.module is None and "• *S3 bucket* (`s3-bucket`)" in reply.text


# --- questions are answered, never stored ----------------------------------------------------
def test_a_question_at_a_pending_yes_no_field_is_answered_not_taken_as_the_value(core: Core) -> None:
    chat = core.chat(DEV)
    chat.say("rds postgres orders-db in core dev")
    assert chat.session.pending_field == "subnet_ids"
    reply = chat.say("I don't know, what subnets do we have?")
    assert "*Subnets* (`subnet_ids`): Private subnets" in reply.text
    assert "subnet_ids" not in chat.session.config and chat.session.pending_field == "subnet_ids"
    assert "multi_az" not in chat.session.config and "Multi-AZ" not in reply.text  # "have" is not "ha"


def test_a_question_at_the_project_step_gets_the_projects_described(core: Core) -> None:
    chat = core.chat(DEV)
    reply = chat.say("not sure, which project is which?")
    assert "• *core*: Shared platform infrastructure (storage, queues, images, roles)" in reply.text
    assert "• *payments*: Payments services" in reply.text and chat.session.project is None
    reply = chat.say("core")
    reply = chat.say("hmm, what are the options?")
    assert "Its environments: `dev`, `staging`, `prod` (production)." in reply.text
    assert chat.session.environment is None


# --- discovery and status ------------------------------------------------------------------------
def test_what_can_you_create_and_list_modules_show_the_catalogue(core: Core) -> None:
    for said in ("what can you create?", "list modules", "which modules do you have?"):
        reply = core.chat(DEV, thread=f"t-{said}").say(said)
        assert reply.text.startswith("I can create:\n• *DynamoDB table*"), said
        assert reply.question == "project"


def test_a_question_about_a_field_is_not_a_catalogue_request(core: Core) -> None:
    chat = core.chat(DEV)
    chat.say("iam role deployer in core dev")
    assert chat.session.pending_field == "trusted_services"
    reply = chat.say("which services can assume it? what is the trusted services field?")
    assert "I can create" not in reply.text and "(`trusted_services`)" in reply.text
    assert chat.session.pending_field == "trusted_services" and "trusted_services" not in chat.session.config


def test_the_catalogue_in_a_chosen_environment_says_what_is_not_available_there(core: Core) -> None:
    chat = core.chat(DEV)
    chat.say("payments dev")
    reply = chat.say("what can you create?")
    assert reply.text.startswith("I can create in payments/dev:")
    assert "Not available in payments/dev: EC2 instance, ECR repository." in reply.text


def test_describe_a_module(core: Core) -> None:
    reply = core.chat(DEV).say("tell me about the ecr repository module")
    assert reply.text.startswith("*ECR repository* (`ecr-repository`):")
    assert "I need: `name`." in reply.text and "Available in: core/dev, core/staging, core/prod." in reply.text


def test_my_requests_and_status_by_id_and_by_name(core: Core) -> None:
    chat = core.chat(DEV)
    assert "You have no requests yet." in chat.say("my requests").text
    chat = core.chat(DEV, thread="t-create")
    chat.say("s3 bucket team-logs in core dev")
    rid = chat.say("submit").request_id
    assert rid
    other = core.chat(DEV, thread="t-ask")
    listed = other.say("show my requests").text
    assert listed.startswith("Your recent requests:\n• `" + rid + "`: s3-bucket `team-logs` in core/dev: *")
    by_name = other.say("what's the status of my team-logs bucket?").text
    assert by_name.startswith("Here it is:\n• `" + rid + "`")
    assert other.say(f"status {rid}").text.startswith("Here it is:\n• `" + rid + "`")
    assert "I found no request of yours matching `req_nothere0000`" in other.say("status req_nothere0000").text
    assert other.session.step == "project"  # nothing was set by asking


def test_cancel_in_natural_phrasings(core: Core) -> None:
    for said in ("never mind", "forget it", "cancel that", "actually cancel that please", "forget about it"):
        chat = core.chat(DEV, thread=f"t-{said}")
        chat.say("sqs queue q-1 in core dev")
        reply = chat.say(said)
        assert reply.done and chat.session.step == "cancelled", said


# --- prod-forced values are facts ---------------------------------------------------------------
def test_values_production_fixes_are_stated_and_not_asked(core: Core) -> None:
    chat = core.chat(PROD)
    reply = chat.say("sqs queue ledger-events in core prod with no dead letter queue")
    assert chat.session.step == "confirm" and not reply.field_errors
    assert "so it stays on." in reply.text and "Should *Dead-letter queue* be on?" not in reply.text
    assert "_(required in production)_" in reply.text
    # Back to dev: the fixed value goes (the user never said it), nothing is asked.
    reply = chat.say("change environment to dev")
    assert chat.session.step == "confirm" and "dead_letter_queue" not in chat.session.config


# --- the confirm step is compact -----------------------------------------------------------------
def test_the_terraform_is_shown_once_and_on_request(core: Core) -> None:
    chat = core.chat(DEV)
    first = chat.say("sqs queue orders in core dev")
    assert first.terraform and "Terraform attached." in first.text
    edit = chat.say("change visibility timeout to 5 minutes")
    assert edit.terraform is None and len(edit.text) < 300
    assert edit.text.startswith("Got it: visibility timeout 300 seconds (5 minutes).\nRequest `")
    again = chat.say("what is fifo?")
    assert again.terraform is None and "is unchanged." in again.text
    shown = chat.say("show terraform")
    assert shown.terraform and "visibility_timeout_seconds" in shown.terraform
    assert chat.say("submit").submitted  # what was confirmed is what was shown


def test_an_edit_shows_what_changed_in_the_terraform(core: Core) -> None:
    chat = core.chat(DEV)
    first = chat.say("sqs queue orders in core dev")
    assert first.terraform and first.terraform_changes is None
    edit = chat.say("change visibility timeout to 5 minutes")
    assert edit.terraform is None and edit.terraform_changes is not None
    changed = [line for line in edit.terraform_changes.splitlines() if line[:1] in "+-"]
    assert changed and all("visibility_timeout_seconds" in line for line in changed)
    assert any(line.startswith("+") and "300" in line for line in changed)
    # The next edit is compared with this version, not the first one.
    again = chat.say("change visibility timeout to 6 minutes")
    assert again.terraform_changes is not None and "300" in again.terraform_changes and "360" in again.terraform_changes
    assert chat.say("what is fifo?").terraform_changes is None  # nothing changed


def test_the_console_prints_the_terraform_once(tmp_path: Path) -> None:
    from bot.cli.chat_cmd import chat_settings
    from bot.cli.demo_cmd import console_deps
    from bot.console.notifier import ConsoleNotifier
    from bot.console.presenter import Presenter
    from bot.console.session import ConsoleSession

    settings, _ = chat_settings(tmp_path / "data")
    out = io.StringIO()
    notifier = ConsoleNotifier(out, presenter=Presenter())
    deps, host = console_deps(settings, notifier=notifier, runner_mode="manual")
    try:
        session = ConsoleSession(deps, out, notifier, Presenter(), settle=host.drain)
        session.handle_line("I need an S3 bucket called logs-7 in dev for the core project")
        printed = out.getvalue()
        assert printed.count('module "') == 1 and "Terraform attached." in printed
        marker = len(printed)
        session.handle_line("change versioning to off")
        edit = out.getvalue()[marker:]
        assert "Got it: versioning off." in edit and 'module "' not in edit
        marker = len(out.getvalue())
        session.handle_line("show terraform")
        assert 'module "' in out.getvalue()[marker:]
    finally:
        host.close()


def test_a_yes_no_field_named_without_a_value_is_explained_not_switched_on(core: Core) -> None:
    chat = core.chat(DEV)
    chat.say("rds postgres orders-db in core dev, subnets subnet-0a1b2c3d subnet-0e5f6a7b, sg sg-0123abcd")
    reply = chat.say("change multi az")
    assert "multi_az" not in chat.session.config and "*Multi-AZ* (`multi_az`)" in reply.text
    assert "is unchanged." in reply.text
    chat.say("set multi az on")
    assert chat.session.config["multi_az"] is True
