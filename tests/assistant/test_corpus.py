"""The utterance corpus through the RuleExtractor and the flow, against the real registry and
the example projects map. Floors chosen after measuring (see docs/assistant.md): they guard
against regressions, they are not the targets."""

from __future__ import annotations

import pytest

from tests.assistant.corpus_runner import Report, load_corpus, run_corpus


@pytest.fixture(scope="module")
def report() -> Report:
    return run_corpus()


def test_corpus_covers_every_module_with_enough_lines() -> None:
    from module_registry import catalogue

    corpus = load_corpus()
    requests = [u for u in corpus if not u.dialogue]
    assert len(requests) >= 60
    assert {u.module for u in requests} == {m.id for m in catalogue.load_registry().modules()}
    assert sum(u.holdout for u in corpus) >= 20
    # Issue 15: the held-out file and the conversation checks (discovery, status, cancel,
    # questions at a pending field, not-in-catalogue, prod eligibility and forced values).
    assert sum(u.holdout and u.dialogue for u in corpus) >= 15
    assert sum(not u.holdout and u.dialogue for u in corpus) >= 10


def test_extraction_accuracy_floors(report: Report) -> None:
    summary = report.summary()
    assert summary["request_exact"] >= 0.90, summary
    assert summary["field_accuracy"] >= 0.97, summary
    holdout = report.part(holdout=True).summary()
    assert holdout["request_exact"] >= 0.80, holdout
    assert holdout["field_accuracy"] >= 0.95, holdout


def test_no_silent_misreads_on_either_part(report: Report) -> None:
    # A value at the confirm step that the user did not say (issue 15): none, tuned or held out.
    for holdout in (False, True):
        part = report.part(holdout=holdout)
        assert [(o.utterance.text, o.misreads) for o in part.silent_misreads] == []


def test_request_level_exact_rates(report: Report) -> None:
    assert report.summary()["request_exact"] >= 0.93, report.summary()
    assert report.part(holdout=False).summary()["request_exact"] >= 0.95
    # The held-out parts were written before tuning and never edited: 93.8 % when measured (its
    # misses are conservative expectations, see docs/assistant.md). Issue 15's target: >= 90 %.
    assert report.part(holdout=True).summary()["request_exact"] >= 0.90


def test_every_line_reaches_a_submitted_request(report: Report) -> None:
    assert [o.utterance.text for o in report.unfinished] == []


def test_complete_requests_submit_in_two_turns(report: Report) -> None:
    summary = report.summary()
    assert summary["complete_requests"] >= 50
    assert summary["median_turns_complete"] <= 2
    assert summary["p95_turns_complete"] <= 3
