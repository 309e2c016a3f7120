"""Benchmark: `parse_release` of a realistic press release pasted as one single line.

The release (headline, marker, date, a contacts line with phones, an email, a redacted and a
starred address, dateline, body paragraphs with quotes and figures, an "About" paragraph) is
repeated and cut to each size, with no line break at all, as text copied out of some web pages
arrives. Reading used to be quadratic in the length of a line (10k characters 3.8 s, 40k 54 s);
this prints the median seconds of the runs per size and characters per second.

    .venv/bin/python bench/bench_release_import.py [--sizes 10000,40000,...] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from distro.releases.importer import parse_release

RELEASE = (
    "Coalition Urges Swift Action On Migrant Protections For Immediate Release // "
    "February 2, 2021 Media contact: Fernanda Durand | (214) 402-0186 | fdurand@alianza.example "
    "| [email protected] ; Nancy Treviño | +1 786 201 8958 | n***@alianza.example "
    "CHICAGO \u2013 Today, the coalition of 40 member organisations called on the administration "
    "to keep its promises. “Every day without change is one day too many,” said Oscar Chacón, "
    "executive director. The group counted 1,250 families in 12 states (see www.example.org). "
    "About Alianza Americas: Alianza Americas is a network of migrant-led organisations "
    "founded in 2004. ### "
)
DEFAULT_SIZES = "10000,40000,160000,1000000,5000000"


def single_line(size: int) -> str:
    return (RELEASE * (size // len(RELEASE) + 1))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="Characters, comma-separated.")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print(f"{'characters':>12}  {'median s':>9}  {'chars/s':>12}  (median of {options.runs})")
    for size in (int(s) for s in options.sizes.split(",")):
        text = single_line(size)
        seconds = []
        for _ in range(options.runs):
            started = time.perf_counter()
            parse_release(text)
            seconds.append(time.perf_counter() - started)
        median = statistics.median(seconds)
        print(f"{size:>12,}  {median:>9.3f}  {size / median:>12,.0f}", flush=True)


if __name__ == "__main__":
    main()
