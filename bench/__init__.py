"""Benchmarks (``make bench``): each ``bench_<area>.py`` exposes ``main() -> None`` and prints
its figures as counts and ratios measured in one run. Nothing here is asserted by tests."""
