"""A finished run's report (outputs of an apply, diagnostics of a failure) read from the code
host and attached to the run's fact before it is folded.

The local runner's facts arrive with their report; a GitHub run's report is in its artifacts
(``RunReports``: ``tfoutputs-<id>``, ``tfdiag-<id>``), so a ``workflow_run`` delivery or a
reconciler refresh that concludes a run reads it here, outside the store's compare-and-swap.
A run whose conclusion is already recorded is not read again (a replayed delivery costs no
call). A report that cannot be read is a note, never an error: the audit log (once per run,
through ``MessageBus.record``) and the service log say why, a failed run's thread says its
diagnostics could not be read, and the run's conclusion still lands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.domain.events import NewEvent
from core.domain.facts import Fact, RunFact
from core.domain.request import Request
from core.domain.run_report import Diagnostic, RunReport, bounded
from core.domain.runs import run_rejection
from core.domain.workflows import request_run_kind
from core.ports.code_host import CodeHost, CodeHostError, RepoRef, RunReports
from core.services.messagebus import MessageBus

log = logging.getLogger(__name__)


def with_reports(
    request: Request, facts: Sequence[Fact], host: CodeHost, repo: RepoRef | None, bus: MessageBus
) -> list[Fact]:
    """``facts`` with the report of each newly concluded run of ``request`` that has one."""
    if not isinstance(host, RunReports) or repo is None:
        return list(facts)
    out: list[Fact] = []
    for fact in facts:
        if isinstance(fact, RunFact) and _wants_report(request, fact):
            out.append(fact.model_copy(update={"report": _read(host, repo, request, fact, bus)}))
        else:
            out.append(fact)
    return out


def _wants_report(request: Request, fact: RunFact) -> bool:
    run = fact.run
    kind = request_run_kind(fact.kind)
    if fact.report is not None or kind is None or run.status != "completed":
        return False
    if run.conclusion is None or (run.conclusion == "success" and fact.kind != "apply"):
        return False  # a successful plan or destroy reports nothing beyond its plan
    known = request.run(kind)
    if known is not None and known.run_id == run.run_id and known.conclusion is not None:
        return False  # already folded: its report (if any) is recorded
    return run_rejection(request, fact.kind, run) is None


def _read(host: RunReports, repo: RepoRef, request: Request, fact: RunFact, bus: MessageBus) -> RunReport | None:
    request_id = fact.request_id
    succeeded = fact.run.conclusion == "success"
    try:
        return host.get_run_report(repo, fact.run.run_id, request_id, succeeded=succeeded)
    except CodeHostError as exc:
        what = "outputs" if succeeded else "diagnostics"
        log.warning("%s of %s run %s unavailable: %s", what, fact.kind, fact.run.run_id, exc)
        # Read before the fold's write: recorded once per run and document version read.
        note = NewEvent(
            name="run_report_unavailable",
            source="github",
            data={"runId": fact.run.run_id, "kind": fact.kind, "report": what, "error": str(exc)},
        )
        bus.record(request_id, note, version=request.version, key=f"{fact.kind}-{fact.run.run_id}")
        if succeeded:
            return None
        return bounded([Diagnostic(summary="TfPilot could not read this run's Terraform diagnostics", detail=str(exc))])
