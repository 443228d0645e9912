"""Assistant bench: the utterance corpus (tests/assistant/corpus.yaml) through the rule
extractor and the intake flow, on the real module registry and the example projects map.

Prints extraction accuracy (field level and request level, for the lines the extractor was
tuned on and for the held-out lines, tests/assistant/corpus_holdout.yaml), SILENT MISREADS (a
value at the confirm step the user did not say: target zero), the dialogue checks (discovery,
status, cancel phrasings, questions at a pending field, not-in-catalogue, prod eligibility and
forced values), turns to a submitted request (median and p95, for every line and for lines that
state every required value: target median <= 2), and extraction time.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict


def main() -> None:
    from assistant.domain.flow import extraction_context
    from assistant.domain.rules import RuleExtractor
    from module_registry import catalogue, projects
    from tests.assistant.corpus_runner import _fresh_session, load_corpus, run_corpus

    registry = catalogue.load_registry()
    projects_map = projects.load_projects()
    started = time.perf_counter()
    report = run_corpus(registry, projects_map)
    elapsed = time.perf_counter() - started

    summary = report.summary()
    print(f"utterances: {summary['utterances']} across {summary['modules']} modules "
          f"({len(report.part(holdout=True).outcomes)} held out)")  # fmt: skip
    for label, part in (
        ("all", report),
        ("tuned", report.part(holdout=False)),
        ("held-out", report.part(holdout=True)),
    ):
        s = part.summary()
        exact = sum(o.exact for o in part.outcomes)
        print(
            f"  {label:9s} request-level exact {exact}/{s['utterances']} ({s['request_exact']:.1%})  "
            f"field-level {s['field_accuracy']:.1%}  silent misreads {s['silent_misreads']}  "
            f"dialogue lines {s['dialogue_lines']}  submitted {s['submitted']}/{s['utterances'] - s['dialogue_lines']}"
        )
    for outcome in report.silent_misreads:
        print(f"  SILENT MISREAD: {outcome.utterance.text[:90]!r}: {'; '.join(outcome.misreads)[:160]}")
    print(
        f"target: request-level exact >= 90 % with zero silent misreads: "
        f"{'met' if summary['request_exact'] >= 0.9 and not report.silent_misreads else 'MISSED'}"
    )
    print(
        f"turns to submit, every line:          median {summary['median_turns']}  p95 {summary['p95_turns']}  "
        f"max {max(report.turns())}"
    )
    print(
        f"turns to submit, complete requests:   median {summary['median_turns_complete']}  "
        f"p95 {summary['p95_turns_complete']}  ({summary['complete_requests']} lines state every required value; "
        f"target median <= 2: {'met' if (summary['median_turns_complete'] or 99) <= 2 else 'MISSED'})"
    )
    by_module: dict[str, list[bool]] = defaultdict(list)
    for outcome in report.outcomes:
        by_module[outcome.utterance.module or "?"].append(outcome.exact)
    print("request-level exact by module: " + ", ".join(
        f"{m} {sum(v)}/{len(v)}" for m, v in sorted(by_module.items())
    ))  # fmt: skip
    misses = [o for o in report.outcomes if not o.exact]
    for outcome in misses:
        part = "held-out" if outcome.utterance.holdout else "tuned"
        print(f"  miss ({part}): {outcome.utterance.text[:90]!r}: {'; '.join(outcome.wrong)[:160]}")

    # Extraction cost of one message (rules only), over the corpus, several rounds.
    rules = RuleExtractor()
    context = extraction_context(_fresh_session(), registry, projects_map)
    lines = [u.text for u in load_corpus() if not u.dialogue]
    timings = []
    for _ in range(5):
        for text in lines:
            t0 = time.perf_counter()
            rules.extract(text, context)
            timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    print(
        f"rule extraction per message: median {statistics.median(timings):.2f} ms  "
        f"p95 {timings[int(0.95 * len(timings)) - 1]:.2f} ms  ({len(timings)} runs)"
    )
    print(f"corpus conversations: {elapsed:.1f}s for {len(report.outcomes)} conversations")
