"""`make bench`: the numbers DESIGN.md sets targets for, printed as a table.

Targets (DESIGN.md "Performance notes"): >= 2,000 accepted req/s on text/single, the modem never
idle while work is queued, idle RSS <= 40 MB.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time

SUITES = ("codec", "drain", "api_inprocess", "http_accept", "hostile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    failed = False
    for name in args.suites or SUITES:
        t0 = time.perf_counter()
        try:
            results = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # report and carry on with the other suites
            print(f"{name}: FAILED: {exc!r}", file=sys.stderr)
            failed = True
            continue
        print(f"== {name} ({time.perf_counter() - t0:.1f} s)")
        for key, value in results.items():
            print(f"  {key:32s} {value:12,.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
