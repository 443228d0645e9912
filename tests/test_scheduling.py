"""The suite's own scheduling (tests/conftest.py): slow tests go to the front of each xdist
worker's first share, spread by their estimated cost, so the last minutes never hold one of
them alone; a ``together`` module stays on one worker."""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import spread_slow_tests


@dataclass
class FakeItem:
    nodeid: str
    markers: list[pytest.Mark] = field(default_factory=list)
    module: types.ModuleType | None = None

    def iter_markers(self) -> Iterator[pytest.Mark]:
        return iter(self.markers)

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return next((m for m in self.markers if m.name == name), None)


def _item(nodeid: str, *marks: pytest.MarkDecorator, module: str = "tests.mod") -> FakeItem:
    return FakeItem(nodeid, [m.mark for m in marks], types.ModuleType(module))


def _shares(items: list[FakeItem], workers: int) -> list[list[FakeItem]]:
    """What xdist's worksteal hands each worker first: equal contiguous slices, in order."""
    out, rest = [], list(items)
    for i in range(workers):
        size = len(rest) // (workers - i)
        out.append(rest[:size])
        rest = rest[size:]
    return out


def _cost(share: list[FakeItem]) -> float:
    return sum(float(m.kwargs.get("cost", 3)) for item in share for m in item.markers if m.name == "terraform")


def test_slow_tests_lead_each_share_and_their_cost_is_even() -> None:
    quick = [_item(f"q{i}") for i in range(40)]
    slow = [_item(f"t{i}", pytest.mark.terraform(cost=c)) for i, c in enumerate([9, 6, 3, 3, 3, 3])]
    items = quick[:10] + slow + quick[10:]  # collected mid-suite, as tests/local is
    ordered = spread_slow_tests(items, 2)  # type: ignore[arg-type]
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)
    shares = _shares(ordered, 2)  # type: ignore[arg-type]
    for share in shares:
        marked = [i.get_closest_marker("terraform") is not None for i in share]
        assert marked == sorted(marked, reverse=True), "slow tests first in each share"
    # Largest first onto the least loaded: 9+3+3 against 6+3+3, apart by at most one small test.
    assert sorted(_cost(s) for s in shares) == [12.0, 15.0]


def test_a_together_module_stays_on_one_worker_and_counts_once() -> None:
    demo = [_item(f"demo{i}", pytest.mark.slow(cost=2.5, together=True), module="tests.demo") for i in range(5)]
    heavy = [_item("t0", pytest.mark.terraform(cost=3)), _item("t1", pytest.mark.terraform(cost=2))]
    ordered = spread_slow_tests(heavy + [_item(f"q{i}") for i in range(30)] + demo, 2)  # type: ignore[arg-type]
    shares = _shares(ordered, 2)  # type: ignore[arg-type]
    holding = [s for s in shares if any(i.nodeid.startswith("demo") for i in s)]
    assert len(holding) == 1 and sum(i.nodeid.startswith("demo") for i in holding[0]) == 5
    # Its cost is its fixture's (2.5), not 5 x 2.5: it shares a worker with the cheaper test only.
    assert {i.nodeid for i in holding[0] if not i.nodeid.startswith(("demo", "q"))} == {"t1"}


def test_without_workers_the_order_is_the_collections() -> None:
    items = [_item("q0"), _item("t0", pytest.mark.terraform), _item("q1")]
    assert spread_slow_tests(items, 1) == items  # type: ignore[arg-type]
