"""Prometheus metrics of the side service, on a registry per app (never the global one).

``WebMetrics`` owns a ``CollectorRegistry`` with:

- ``tfpilot_requests{status}``: requests by derived status, read from the index rows at scrape
  time (no document reads), archived ones included (destroyed requests live in ``history/``);
- ``tfpilot_webhook_latency_seconds{event}``: a delivery's arrival to its sync finishing (the
  card update happens inside that sync); ``tfpilot_webhook_ack_seconds``: arrival to answer;
- ``tfpilot_webhook_deliveries_total{event,outcome}`` and ``tfpilot_webhook_in_flight``;
- ``tfpilot_github_calls_total{kind}`` and ``tfpilot_github_rate_limit_remaining``, from the
  GitHub client's ``stats`` when the code host has one;
- ``tfpilot_slack_acks_total{mode,outcome}``: from ``SLACK_ACKS``, a process-wide counter that
  does not need ``Deps``: the HTTP route counts its answers to Slack, and Socket Mode (or any
  Bolt app) calls ``record_slack_ack()``;
- ``tfpilot_reconciler_*``: passes, syncs, resumes and errors of the reconciler.

Separate registries keep tests and several apps in one process from colliding.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.web.auth import ApiToken
from bot.web.body import ERROR_RESPONSES
from bot.web.context import web_context
from core.domain.index import ListFilter
from core.domain.status import Status

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ProcessCounters:
    """Thread-safe labelled counters that live for the process (no registry, no ``Deps``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, ...]] = Counter()

    def inc(self, *labels: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[labels] += amount

    def items(self) -> list[tuple[tuple[str, ...], int]]:
        with self._lock:
            return sorted(self._counts.items())

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


SLACK_ACKS = ProcessCounters()  # labels: (mode, outcome)


def record_slack_ack(mode: str = "socket", outcome: str = "ok") -> None:
    """Count one acknowledgement sent to Slack (the hook Socket Mode or a Bolt middleware calls)."""
    SLACK_ACKS.inc(mode[:32], outcome[:32])


def github_stats_of(code_host: Any) -> Any | None:
    """The ``CallStats`` of a ``GitHubCodeHost``'s client, or None for other code hosts."""
    client = getattr(code_host, "client", None)
    return getattr(client, "stats", None)


class _ScrapeCollector(Collector):
    """Values computed when Prometheus scrapes: statuses, GitHub stats, Slack acks."""

    def __init__(self, deps: Deps | None, acks: ProcessCounters) -> None:
        self._deps = deps
        self._acks = acks

    def collect(self) -> Iterator[Metric]:
        yield from self._statuses()
        yield from self._github()
        acks = CounterMetricFamily("tfpilot_slack_acks", "Acknowledgements sent to Slack", labels=["mode", "outcome"])
        for labels, value in self._acks.items():
            acks.add_metric(list(labels), value)
        yield acks

    def _statuses(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily("tfpilot_requests", "Requests by derived status (index rows)", labels=["status"])
        counts: Counter[str] = Counter({status.value: 0 for status in Status})
        if self._deps is not None:
            try:
                for row in self._deps.store.rows(ListFilter(include_archived=True)):
                    counts[row.status] += 1
            except Exception:
                log.warning("reading index rows for /metrics failed", exc_info=True)
                return []
        for status, value in sorted(counts.items()):
            gauge.add_metric([status], value)
        return [gauge]

    def _github(self) -> Iterable[Metric]:
        stats = github_stats_of(self._deps.code_host) if self._deps is not None else None
        if stats is None:
            return []
        calls = CounterMetricFamily("tfpilot_github_calls", "GitHub REST calls sent", labels=["kind"])
        calls.add_metric(["read"], stats.reads)
        calls.add_metric(["write"], stats.writes)
        calls.add_metric(["not_modified"], stats.not_modified)
        calls.add_metric(["retry"], stats.retries)
        out: list[Metric] = [calls]
        if stats.last_rate_limit_remaining is not None:
            left = GaugeMetricFamily("tfpilot_github_rate_limit_remaining", "Requests left in the GitHub rate limit")
            left.add_metric([], stats.last_rate_limit_remaining)
            out.append(left)
        return out


class WebMetrics:
    def __init__(self, deps: Deps | None = None, *, acks: ProcessCounters = SLACK_ACKS) -> None:
        self.registry = CollectorRegistry()
        self.webhook_latency = Histogram(
            "tfpilot_webhook_latency_seconds",
            "GitHub delivery received -> its request synced (card updated)",
            ["event"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhook_ack = Histogram(
            "tfpilot_webhook_ack_seconds",
            "GitHub delivery received -> answered",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.deliveries = PromCounter(
            "tfpilot_webhook_deliveries",
            "GitHub deliveries by event and outcome",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.in_flight = Gauge("tfpilot_webhook_in_flight", "Deliveries being synced or queued", registry=self.registry)
        self.reconciler_passes = PromCounter(
            "tfpilot_reconciler_passes", "Reconciler passes run", registry=self.registry
        )
        self.reconciler_actions = PromCounter(
            "tfpilot_reconciler_actions", "Reconciler work by kind", ["kind"], registry=self.registry
        )
        self.registry.register(_ScrapeCollector(deps, acks))

    def track_in_flight(self, value: Callable[[], float]) -> None:
        self.in_flight.set_function(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)


# --- the scrape endpoint ----------------------------------------------------------------------


router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    dependencies=[ApiToken],
    response_class=Response,
    summary="Prometheus metrics (bearer token)",
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}, **ERROR_RESPONSES},
)
async def metrics(request: Request) -> Response:
    ctx = web_context(request)
    body = await run_in_threadpool(ctx.metrics.render)
    return Response(content=body, media_type=CONTENT_TYPE)


def bolt_ack_counter(next: Callable[[], Any]) -> Any:
    """A Bolt global middleware counting each envelope handled in Socket Mode (acked over the socket)."""
    try:
        return next()
    finally:
        record_slack_ack("socket")
