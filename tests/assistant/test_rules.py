"""The ``RuleExtractor``'s forms, one by one, against the real module registry and the example
projects map: ``key=value``, "name is X", "called X", numbers with units, booleans with their
polarity, enum values by spelling and by fuzzy match, module/environment synonyms, maps of
``k=v`` pairs, and questions (which never set a value)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from assistant.domain.chat_model import Candidates
from assistant.domain.flow import extraction_context
from assistant.domain.rules import RuleExtractor
from assistant.domain.session import ConversationKey, IntakeSession
from module_registry import catalogue, projects

REGISTRY = catalogue.load_registry()
PROJECTS = projects.load_projects()


def extract(message: str, module: str | None = None, pending: str | None = None, **session: Any) -> Candidates:
    s = IntakeSession.start(
        ConversationKey(channel="C", thread_ts="1"), "U", session_id="ses_1", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    s.module, s.pending_field = module, pending
    s.step = "config" if module else "project"
    for key, value in session.items():
        setattr(s, key, value)
    return RuleExtractor().extract(message, extraction_context(s, REGISTRY, PROJECTS))


@pytest.mark.parametrize(
    ("module", "message", "config"),
    [
        # key=value, with the field's name, title or a hint; "=" keys matched fuzzily
        ("s3-bucket", "name=ml-scratch force_destroy=true versioning=false", {"name": "ml-scratch", "force_destroy": True, "versioning": False}),
        ("s3-bucket", "versoning=true", {"versioning": True}),
        # "X is Y", "change X to Y", "set X = Y", "X: Y"
        ("sqs-queue", "name is orders", {"name": "orders"}),
        ("sqs-queue", "change visibility timeout to 5 min", {"visibility_timeout_seconds": 300}),
        ("sqs-queue", "set delay_seconds = 10", {"delay_seconds": 10}),
        ("sqs-queue", "max receive count: 7", {"max_receive_count": 7}),
        # numbers with units, converted to the field's unit
        ("sqs-queue", "visibility timeout 2 minutes, retention 4 days, max message size 128 KB",
         {"visibility_timeout_seconds": 120, "message_retention_seconds": 345600, "max_message_size": 131072}),
        ("rds-postgres", "storage 1 TB", {"allocated_storage": 1024}),
        # booleans with their polarity
        ("s3-bucket", "with versioning", {"versioning": True}),
        ("s3-bucket", "versioning off", {"versioning": False}),
        ("s3-bucket", "disable versioning", {"versioning": False}),
        ("s3-bucket", "no force destroy", {"force_destroy": False}),
        ("sqs-queue", "without a dead letter queue", {"dead_letter_queue": False}),
        ("sqs-queue", "enable fifo", {"fifo": True}),
        # enum values by spelling, by a word only one option has, and in several words
        ("dynamodb-table", "billing pay per request", {"billing_mode": "PAY_PER_REQUEST"}),
        ("rds-postgres", "instance class t4g.small", {"instance_class": "db.t4g.small"}),
        ("rds-postgres", "change instance class to t4g medium", {"instance_class": "db.t4g.medium"}),
        ("s3-bucket", "kms encryption", {"encryption": "sse-kms"}),
        # maps: a run of k=v pairs after the field's name
        ("sqs-queue", "tags = team=pay, cost-center=42", {"tags": {"team": "pay", "cost-center": "42"}}),
        ("s3-bucket", "with tags team=pay and owner=bob, versioning off",
         {"tags": {"team": "pay", "owner": "bob"}, "versioning": False}),
    ],
)  # fmt: skip
def test_config_forms(module: str, message: str, config: dict[str, Any]) -> None:
    found = extract(message, module)
    assert found.config == config
    assert found.unknown_fields == [] and found.problems == {}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("I need an s3 bucket called team-logs in core dev", ("core", "dev", "s3-bucket", {"name": "team-logs"})),
        ("a queue named jobs in core development", ("core", "dev", "sqs-queue", {"name": "jobs"})),
        ("a vm in payments production", ("payments", "prod", "ec2-instance", {})),
        ("postgres billing in core stg with 100 GB storage",
         ("core", "staging", "rds-postgres", {"name": "billing", "allocated_storage": 100})),
        ("create bucket name=ml-scratch project=core env=dev", ("core", "dev", "s3-bucket", {"name": "ml-scratch"})),
        ("bucket x-logs tags=a=b project=core env=dev", ("core", "dev", "s3-bucket", {"name": "x-logs", "tags": {"a": "b"}})),
    ],
)  # fmt: skip
def test_names_and_synonyms(message: str, expected: tuple[str, str, str, dict[str, Any]]) -> None:
    found = extract(message)
    assert (found.project, found.environment, found.module, found.config) == expected


@pytest.mark.parametrize(
    ("module", "pending", "answer", "value"),
    [
        ("ec2-instance", "instance_type", "t3 medium", "t3.medium"),  # separators aside
        ("dynamodb-table", "billing_mode", "pay-per-request", "PAY_PER_REQUEST"),
        ("s3-bucket", "encryption", "kms", "sse-kms"),  # a word only one option has
        ("sqs-queue", "visibility_timeout_seconds", "2 minutes", 120),
        ("sqs-queue", "fifo", "yes", True),
        ("sqs-queue", "name", "orders-v2", "orders-v2"),
    ],
)
def test_bare_answers_to_the_question_asked(module: str, pending: str, answer: str, value: Any) -> None:
    found = extract(answer, module, pending)
    assert found.config == {pending: value} and found.intent == "none"


def test_a_near_miss_is_refused_with_the_option_it_probably_meant() -> None:
    # A misspelt option is never silently taken for the option (issue 12): the problem names it.
    found = extract("t3 mediun", "ec2-instance", "instance_type")
    assert found.config == {}
    assert "did you mean t3.medium?" in found.problems["instance_type"]


def test_a_bare_answer_that_is_another_fields_value_is_not_also_the_answer() -> None:
    found = extract("t3.large", "ec2-instance", "subnet_id")
    assert found.config == {"instance_type": "t3.large"} and found.problems == {}


def test_field_words_of_the_chosen_module_never_switch_the_module() -> None:
    assert extract("change storage to 50 gb", "rds-postgres").module is None
    assert extract("change storage to 50 gb", "rds-postgres").config == {"allocated_storage": 50}
    assert extract("instance class db.t4g.large", "rds-postgres").module is None
    # A module word that is not a field of the chosen module still switches.
    assert extract("actually make it a queue", "s3-bucket").module == "sqs-queue"


@pytest.mark.parametrize(
    ("message", "about"),
    [
        ("what is fifo?", ["fifo"]),
        ("what's the message retention?", ["message_retention_seconds"]),
        ("why would I want a dead letter queue?", ["dead_letter_queue"]),
        ("what does this do?", []),
    ],
)
def test_questions_ask_about_fields_and_set_nothing(message: str, about: list[str]) -> None:
    found = extract(message, "sqs-queue")
    assert found.intent == "help" and found.about == about and found.config == {}


@pytest.mark.parametrize("message", ["can you make it fifo?", "how about fifo", "fifo please?"])
def test_requests_phrased_as_questions_still_set_values(message: str) -> None:
    found = extract(message, "sqs-queue")
    assert found.config == {"fifo": True} and found.intent == "none"


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("cancel", "cancel"),
        ("never mind", "cancel"),
        ("start over", "start_over"),
        ("back", "back"),
        ("undo", "back"),
        ("show terraform", "show_terraform"),
        ("show me the tf", "show_terraform"),
        ("submit", "submit"),
        ("lgtm", "submit"),
        ("not yet", "reject"),
        ("help", "help"),
        ("scrap it", "cancel"),
        ("ditch this one", "cancel"),
        ("stop please, I changed my mind", "cancel"),
        ("I changed my mind, cancel it", "cancel"),
    ],
)
def test_commands(message: str, intent: str) -> None:
    assert extract(message, "s3-bucket").intent == intent


def test_yes_answering_a_yes_no_question_is_its_value_not_a_submit() -> None:
    found = extract("yes", "s3-bucket", "versioning")
    assert found.intent == "none" and found.config == {"versioning": True}


@pytest.mark.parametrize(
    ("answer", "config"),
    [
        ("orders with fifo", {"name": "orders", "fifo": True}),
        ("orders-q and fifo and 60s visibility", {"name": "orders-q", "fifo": True, "visibility_timeout_seconds": 60}),
        ("with fifo", {"fifo": True}),
        ("my queue is fine with fifo", {"fifo": True}),  # no single word left: not a name
    ],
)
def test_an_answer_with_other_values_keeps_the_one_word_left_as_the_answer(answer: str, config: dict[str, Any]) -> None:
    assert extract(answer, "sqs-queue", "name").config == config


def test_an_answer_with_the_environment_keeps_the_name() -> None:
    found = extract("orders in dev", "sqs-queue", "name")
    assert found.environment == "dev" and found.config == {"name": "orders"}


def test_a_capitalised_identifier_after_the_module_word_is_the_name_to_check() -> None:
    # Read, so the registry can say why it is refused; a capitalised ordinary word is not a name.
    assert extract("bucket Bad_Name in core dev").config == {"name": "Bad_Name"}
    assert extract("a bucket For the logs in core dev").config == {}


@pytest.mark.parametrize(
    ("message", "name"),
    [
        # a module word as a label, then a colon
        ("Queue: ingest-events | project payments | env dev", "ingest-events"),
        ("s3 bucket for nightly backups: nightly-backups, core dev", "nightly-backups"),
        # cue words of a language without a list: the identifier after them is the name
        ("een sqs queue genaamd batch-jobs voor payments dev", "batch-jobs"),
        ("kolejka sqs o nazwie zadania-pl w core dev", "zadania-pl"),
        # a plain word closing the phrase is still the name
        ("new s3 bucket assets in core staging", "assets"),
        ("ec2 instance bastion t3.micro in core dev", "bastion"),
        # two plain words, or a field's word: not sure, nothing is read (the name is asked)
        ("a bucket team logs in core dev", None),
        ("bucket versioning: off", None),
    ],
)
def test_names_after_the_module_word(message: str, name: str | None) -> None:
    assert extract(message).config.get("name") == name


@pytest.mark.parametrize(
    "message", ["any news on req_ab12cd34ef56?", "how's req_ab12cd34ef56 doing?", "is req_ab12cd34ef56 done yet"]
)
def test_status_of_a_request_id_in_other_words(message: str) -> None:
    cand = extract(message)
    assert (cand.intent, cand.status_ref) == ("status", "req_ab12cd34ef56")


def test_update_words_without_a_request_id_are_no_status_question() -> None:
    cand = extract("update the visibility timeout to 60 seconds", "sqs-queue")
    assert cand.intent == "none" and cand.config == {"visibility_timeout_seconds": 60}
