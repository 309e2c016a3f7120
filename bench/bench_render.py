"""Benchmark: personalised messages rendered per second (HTML + text + headers), one core.

Composes N distinct recipients of a realistic release (the bundled sample, plus a long release
imported from the shared samples' copy in tests/fixtures/releases) exactly as the sender does:
per-recipient values, two signed links, the fast-path fill of subject, HTML and text, and the
unsubscribe headers. Also prints the full per-recipient render (the fallback path) for
comparison, in the same run.

    .venv/bin/python bench/bench_render.py [--messages 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from distro.config import BUILT_IN, Settings
from distro.models import Contact, Release
from distro.releases.importer import parse_release
from distro.releases.service import SAMPLES, release_fields_from_toml
from distro.rendering import make_environment
from distro.sending.compose import Composer
from distro.tracking.links import LinkSigner

# The shared samples' long release, copied beside the tests so the bench needs no ../shared.
LONG_RELEASES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "releases"


def releases() -> list[tuple[str, Release]]:
    found = [
        (
            "sample",
            Release(id=1, slug="sample", **release_fields_from_toml(SAMPLES / "release.toml")),
        )
    ]
    long_one = sorted(LONG_RELEASES.glob("002_*.txt"))
    if long_one:
        parsed = parse_release(long_one[0].read_text(encoding="utf-8"))
        found.append(
            (
                "shared 002 (long)",
                Release(
                    id=2,
                    slug="long",
                    title=parsed.title,
                    subtitle=parsed.subtitle,
                    dateline=parsed.dateline,
                    body_md=parsed.body,
                    boilerplate=parsed.boilerplate,
                    media_contacts=[{"name": c.name, "phone": c.phone} for c in parsed.contacts],
                ),
            )
        )
    return found


def contacts(count: int) -> list[Contact]:
    zones = ["America/New_York", "America/Los_Angeles", "Europe/Paris", ""]
    return [
        Contact(
            email=f"reporter{i}@outlet{i % 97}.example",
            first_name=f"Reporter{i}" if i % 10 else "",
            last_name="O'Brien & Sons",
            outlet=f"Outlet <{i % 97}>",
            timezone=zones[i % len(zones)],
            custom={"desk": "metro"},
        )
        for i in range(count)
    ]


def rate(composer: Composer, people: list[Contact]) -> float:
    started = time.perf_counter()
    for index, person in enumerate(people, 1):
        composer.compose(index, person)
    return len(people) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.model_validate({**BUILT_IN, "server": {"secret_key": "b" * 32}})
    environment = make_environment()
    signer = LinkSigner("b" * 32)
    people = contacts(args.messages)
    for name, release in releases():
        composer = Composer(settings, environment, signer, release, "release")
        assert composer.prepared.fast
        fast = [rate(composer, people) for _ in range(args.runs)]
        composer.prepared.compiled = None  # force the full per-recipient render
        slow = [rate(composer, people[: max(500, args.messages // 20)]) for _ in range(3)]
        median_fast, median_slow = statistics.median(fast), statistics.median(slow)
        print(
            f"{name}: {median_fast:,.0f} messages/s rendered once per send (median of "
            f"{args.runs} x {args.messages:,}); full per-recipient render {median_slow:,.0f}/s; "
            f"ratio {median_fast / median_slow:.1f}x"
        )


if __name__ == "__main__":
    main()
