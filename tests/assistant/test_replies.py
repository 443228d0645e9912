"""What the assistant says, read as a user would: it acknowledges what it understood, asks one
clear question without repeating itself, explains a refusal once, answers questions about
fields, and never turns a question or a field's name into something else."""

from __future__ import annotations

from tests.assistant.conftest import DEV, PROD, Core, World


def test_the_first_question_acknowledges_what_was_understood(core: Core) -> None:
    chat = core.chat()
    reply = chat.say("I need an sqs queue in dev for core")
    first, question = reply.text.split("\n", 1)
    assert first == "Got it: an SQS queue in core/dev."
    assert question.startswith("What should *Name* be?") and reply.question == "name"


def test_a_module_named_before_the_project_is_acknowledged_then_placed(core: Core) -> None:
    chat = core.chat(PROD)  # prod is chosen below: a person on the prod allowlist
    reply = chat.say("I need a database")
    assert reply.text.startswith("Got it: an RDS PostgreSQL database.\n") and reply.question == "project"
    reply = chat.say("core")
    assert not reply.text.startswith("Got it")  # the environment question names the project
    reply = chat.say("prod")
    assert reply.text.startswith("Got it: an RDS PostgreSQL database in core/prod.\n")


def test_the_first_confirm_step_needs_no_acknowledgement_but_a_change_gets_one(core: Core) -> None:
    chat = core.chat()
    reply = chat.say("queue orders in core dev")
    assert reply.step == "confirm" and reply.text.startswith("Here is the request")
    reply = chat.say("change visibility timeout to 5 min")
    assert reply.text.startswith("Got it: visibility timeout 300 seconds (5 minutes).\n")
    reply = chat.say("fifo on")
    assert reply.text.startswith("Got it: FIFO on.\n")
    # Issue 15: an edit at confirm says what changed; the summary and Terraform are not re-posted
    # (they come back on `show terraform`).
    assert "• Visibility timeout" not in reply.text and reply.terraform is None
    reply = chat.say("show terraform")
    assert "• Visibility timeout (`visibility_timeout_seconds`): 300 seconds (5 minutes)\n" in reply.text
    assert reply.terraform


def test_a_greeting_gets_an_introduction_not_an_apology(world: World) -> None:
    chat = world.chat()
    reply = chat.say("hi")
    assert reply.text.startswith("Hi! ") and "didn't catch" not in reply.text
    assert reply.question == "project"
    chat.say("payments")
    assert "didn't catch" in chat.say("hmm").text  # later, an empty reading is said plainly


def test_units_are_said_once_in_the_question_and_with_the_value(core: Core) -> None:
    chat = core.chat()
    chat.say("queue orders in core dev")
    reply = chat.say("set visibility timeout = 99999 days")
    assert reply.question == "visibility_timeout_seconds"
    assert "What should *Visibility timeout* be (in seconds)?" in reply.text
    assert "(seconds) (in seconds)" not in reply.text and "Visibility timeout (seconds)" not in reply.text
    assert "Default: 30 seconds." in reply.text
    assert [c.label for c in reply.choices] == ["Default (30 seconds)"]


def test_a_coercion_problem_names_the_field_once(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    reply = chat.say("expiration_days = banana")
    assert "Expiration: must be a number (in days)." in reply.text
    assert "Expiration: Expiration" not in reply.text


def test_the_shape_and_example_are_not_repeated_after_a_refusal(core: Core) -> None:
    chat = core.chat()
    chat.say("ec2 instance build-box in core dev, t3.small")
    reply = chat.say("my-subnet")
    assert reply.question == "subnet_id" and "subnet_id" in reply.field_errors
    assert reply.text.count("subnet-0123456789abcdef0") == 1


def test_a_refusal_is_explained_once_then_the_question_is_asked_plainly(world: World) -> None:
    chat = world.chat()
    chat.say("bucket logs-x in payments dev")
    reply = chat.say("set expiration_days = 5000")
    assert "maximum" in reply.text.lower() and "expiration_days" in reply.field_errors
    reply = chat.say("help")  # touches nothing: the same question, without the same complaint
    assert chat.session.pending_field == "expiration_days"
    assert "maximum" not in reply.text.lower() and reply.field_errors == {}
    reply = chat.say("6000")  # a new wrong value is explained again
    assert "6000" in reply.text and "expiration_days" in reply.field_errors


def test_a_question_about_a_field_is_answered_and_sets_nothing(core: Core) -> None:
    chat = core.chat()
    chat.say("queue orders in core dev")
    reply = chat.say("what is fifo?")
    assert "fifo" not in chat.session.config and chat.session.step == "confirm"
    assert reply.text.startswith("*FIFO* (`fifo`): First-in-first-out")
    assert "Default: off." in reply.text.split("\n", 1)[0]
    reply = chat.say("what are the options for encryption?")  # not a field of a queue: general help
    assert "start over" in reply.text


def test_a_value_for_another_field_is_taken_without_a_complaint(core: Core) -> None:
    chat = core.chat()
    chat.say("ec2 instance build-box in core dev")
    assert chat.session.pending_field == "subnet_id"
    reply = chat.say("t3.large")
    assert chat.session.config["instance_type"] == "t3.large"
    assert reply.field_errors == {} and "does not have the allowed format" not in reply.text
    assert reply.text.startswith("Got it: instance type `t3.large`.\n") and reply.question == "subnet_id"


def test_editing_a_field_never_switches_the_module(core: Core) -> None:
    chat = core.chat()
    chat.say(
        "postgres database billing in payments dev, subnets subnet-0aaaaaaaaaaaaaaaa subnet-0bbbbbbbbbbbbbbbb, "
        "security group sg-0cccccccccccccccc"
    )
    assert chat.session.step == "confirm"
    chat.say("change storage to 50 gb")
    chat.say("change instance class to t4g medium")
    session = chat.session
    assert session.module == "rds-postgres" and session.step == "confirm"
    assert session.config["allocated_storage"] == 50 and session.config["instance_class"] == "db.t4g.medium"
    assert session.config["subnet_ids"] == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]


def test_confirm_lists_every_value_once_and_offers_only_what_it_cannot_show(core: Core) -> None:
    chat = core.chat()
    reply = chat.say("queue orders in core dev")
    summary = [line for line in reply.text.splitlines() if line.startswith("• ")]
    assert len(summary) == len({line.split("(`")[1] for line in summary})  # each field once
    # Issue 15: the confirm step is compact: what the user said in bullets, defaults on one line.
    assert summary == ["• Name (`name`): orders"]
    [defaults] = [line for line in reply.text.splitlines() if line.startswith("Defaults: ")]
    assert "message retention 345600 seconds (4 days)" in defaults and defaults.endswith("tags none.")
    [optional] = [line for line in reply.text.splitlines() if line.startswith("Optional settings")]
    assert optional == "Optional settings you can add: `kms_key_id`."
    assert any(line.startswith("Presets: `fifo`") for line in reply.text.splitlines())


def test_a_refused_empty_default_is_not_offered(core: Core) -> None:
    chat = core.chat()
    chat.say("iam role deployer in core dev")
    assert chat.session.pending_field == "trusted_services"
    reply = chat.say("lambda")  # not a service principal
    assert "trusted_services" in reply.field_errors
    assert "default" not in [c.value for c in reply.choices] and "Default:" not in reply.text
    reply = chat.say("lambda.amazonaws.com")
    assert reply.step == "confirm"


def test_show_terraform_before_confirm_says_why_there_is_none(world: World) -> None:
    chat = world.chat()
    chat.say("bucket in payments dev")
    reply = chat.say("show terraform")
    assert reply.terraform is None
    assert reply.text.startswith("There is no Terraform to show yet")
    assert reply.question == "name"


def test_the_submitted_reply_links_the_pull_request_once(core: Core) -> None:
    chat = core.chat()
    chat.say("bucket team-logs in core dev")
    done = chat.say("submit")
    assert done.link is not None and done.text.count(done.link) == 1
    assert done.text.startswith(f"Request `{done.request_id}` is created, with pull request {done.link}.")


def test_a_permission_refusal_reads_as_a_sentence(core: Core) -> None:
    chat = core.chat(DEV)
    reply = chat.say("bucket invoices in core prod")  # issue 15: said when prod is chosen
    assert "You can't request changes in core/prod: requests in prod need the prod allowlist." in reply.text
    assert "to: " not in reply.text
    assert core.chat(PROD, thread="1700000000.000950").say("bucket invoices in core prod").step == "confirm"


def test_a_preset_is_acknowledged_with_the_values_it_set(core: Core) -> None:
    chat = core.chat()
    chat.say("dynamodb table events in core dev, partition key id")
    reply = chat.say("use preset with-ttl")
    assert reply.text.startswith("Applied preset `with-ttl`: TTL attribute `expires_at`.\n")
    assert chat.session.config["ttl_attribute"] == "expires_at"
