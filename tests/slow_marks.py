"""Which tests ``make check`` leaves out: the ``slow`` marker, given here in one list rather than
in each file, so that what "the fast subset" means is read in one place.

Slow are: every test marked ``browser`` (Chromium) or ``postgres`` (a database created and
migrated per test); the tests that start the installed console script (serve, the worker,
the sandbox, a pseudo-terminal, signals); and the benchmark-like and reliability runs. ``make
test`` runs them all.
"""

from __future__ import annotations

import pytest

SLOW_MARKERS = frozenset({"browser", "postgres"})

# Whole modules: real processes, benchmarks and reliability runs.
SLOW_MODULES = frozenset(
    {
        "test_bench_smoke.py",
        "test_browser_support.py",
        "test_cli_progress.py",
        "test_endpoints.py",
        "test_processes.py",
        "test_reliability.py",
        "test_reports_bench.py",
    }
)

# Single tests, by module and name (every parametrisation): each starts the console script or
# a server process, or is a benchmark-like run.
SLOW_TESTS: dict[str, frozenset[str]] = {
    "test_body_limits.py": frozenset({"test_parallel_50mb_posts_are_refused_with_flat_memory"}),
    "test_release_cli.py": frozenset({"test_send_test_reaches_the_sandbox_marked_and_is_recorded"}),
    "test_sandbox.py": frozenset({"test_run_standalone_serves_until_interrupted"}),
    "test_sandbox_exposure.py": frozenset(
        {
            "test_serve_on_every_interface_with_the_sandbox_refuses_to_start",
            "test_standalone_sandbox_on_every_interface_refuses_to_start",
            "test_expose_sandbox_serves_it_on_every_interface",
            "test_serve_with_a_real_provider_on_every_interface_leaves_the_sandbox_out",
            "test_serve_beyond_loopback_without_a_public_url_warns_about_the_links",
        }
    ),
    "test_secret_key.py": frozenset(
        {
            "test_distro_serve_with_an_empty_key_file_stops_with_one_line",
            "test_processes_starting_at_once_agree_on_one_key",
        }
    ),
}


def is_slow(item: pytest.Item) -> bool:
    if any(item.get_closest_marker(name) is not None for name in SLOW_MARKERS):
        return True
    if item.path.name in SLOW_MODULES:
        return True
    name = getattr(item, "originalname", item.name)  # without its parameters
    return name in SLOW_TESTS.get(item.path.name, frozenset())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
