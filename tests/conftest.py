"""Shared test fixtures. Area-specific fixtures live in ``tests/<area>/conftest.py``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Third-party payloads and schemas copied into the repository unchanged (tests/fixtures/README.md
# names each file's source and licence); never edited to make a test pass.
SHARED_FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    # Part of the repository: a missing folder is a broken checkout, never a reason to skip.
    assert SHARED_FIXTURES.is_dir(), f"third-party fixtures missing from the checkout: {SHARED_FIXTURES}"
    return SHARED_FIXTURES


SETTINGS_PREFIXES = ("TFPILOT_", "SLACK_", "GITHUB_", "OPENAI_")


def clear_settings(monkeypatch: pytest.MonkeyPatch, *, env_file: bool = False) -> None:
    """Drop every TfPilot setting from the environment. The test-wide empty ``TFPILOT_ENV_FILE``
    stays unless ``env_file`` (then ``.env`` in the current directory counts: ``chdir`` to a
    test directory first, never read the developer's)."""
    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES) and (env_file or name != "TFPILOT_ENV_FILE"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty env file outside every test's own directory (tests list theirs)."""
    path = tmp_path_factory.mktemp("settings") / "isolated.env"
    path.write_text("")
    return path


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_env_file: Path) -> None:
    # Tests never read the developer's real credentials or write into the work tree.
    for name in ("SLACK_BOT_TOKEN", "GITHUB_TOKEN", "OPENAI_API_KEY", "TFPILOT_REQUESTS_BUCKET", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFPILOT_DATA_DIR", str(tmp_path / "tfpilot-data"))
    # Nor a developer's .env (in the work tree, where pytest runs): settings read an empty one.
    monkeypatch.setenv("TFPILOT_ENV_FILE", str(empty_env_file))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


# --- Scheduling the slow tests --------------------------------------------------------------
# `make test` runs pytest-xdist with --dist worksteal: each worker first gets one contiguous
# slice of the collection (worker i the i-th of equal slices), and an idle worker then steals
# the tail of the busiest one's queue. A test of minutes left at the end of a slice runs alone
# while the other worker idles, so the slow tests (marked ``terraform`` or ``slow``) are moved to
# the front of the slices, spread so each worker's share of their estimated cost is even
# (largest first onto the least loaded worker); the quick tests fill the slices up and are
# what the stealing evens out at the end. ``slow(cost=N)`` estimates a test's minutes of CPU
# (terraform: 3, slow: 1 unless said); ``slow(together=True)`` on a module keeps its tests on
# one worker (they share a costly module-scoped fixture that would otherwise run twice).
TERRAFORM_COST = 3.0
SLOW_COST = 1.0


def _cost(item: pytest.Item) -> float:
    said = [m.kwargs["cost"] for m in item.iter_markers() if m.name in ("slow", "terraform") and "cost" in m.kwargs]
    if said:
        return float(said[0])  # the closest marker's estimate
    if item.get_closest_marker("terraform") is not None:
        return TERRAFORM_COST
    return SLOW_COST if item.get_closest_marker("slow") is not None else 0.0


def _group_cost(group: Sequence[pytest.Item]) -> float:
    # A together group's cost is its shared fixture's, estimated on each of its tests.
    return max(map(_cost, group)) if _together(group[0]) else sum(map(_cost, group))


def _together(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("slow")
    return marker is not None and bool(marker.kwargs.get("together"))


def _slow_groups(items: Sequence[pytest.Item]) -> list[list[pytest.Item]]:
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(item.module.__name__ if _together(item) and item.module else item.nodeid, []).append(item)
    return list(groups.values())


def spread_slow_tests(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The collection reordered for ``workers`` worksteal workers (see above); the same input
    gives the same order in every worker, as xdist requires."""
    slow = [item for item in items if _cost(item) > 0]
    if workers < 2 or not slow:
        return items
    quick = [item for item in items if _cost(item) == 0]
    loads = [0.0] * workers
    fronts: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for group in sorted(_slow_groups(slow), key=lambda g: -_group_cost(g)):
        least = loads.index(min(loads))
        fronts[least] += group
        loads[least] += _group_cost(group)
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for i, front in enumerate(fronts):
        size = remaining // (workers - i)  # what xdist's worksteal hands worker i at the start
        fill = max(0, size - len(front))
        ordered += front + quick[:fill]
        quick = quick[fill:]
        remaining -= len(front) + fill
    return ordered + quick


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = spread_slow_tests(items, workers)
