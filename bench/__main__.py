"""`make bench` / `python -m bench [NAME...] [--quick]`: pipeline, http_me, healthz, login, registration_numbers,
contracts_post, contracts_processing, downloads, downloads_concurrent, update_plan, portal_pages, knowledge_search,
attachments, support_status, scaling, rates_history, rates_since.

Runs the benchmarks of issue 2, each on a database and vhost of its own, and prints every figure beside
its reference measured in the same run, their ratio (the rounds' lowest to highest beside it, where rounds
alternate) and the target. A ratio below target is reported (BELOW), not a failure; a figure whose rounds spread by
more than 2x is NOISY (the machine was busy), not a result. The exit status is non-zero only when a benchmark could
not run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

# The kernel's defaults, not whatever ITS_* this shell has (the service processes get a clean ITS_* too); tracing
# off, as by default (OTEL_*, shared/tracing.py): the figures are the kernel's own cost.
for _name in [n for n in os.environ if n.startswith(("ITS_", "OTEL_")) and not n.startswith("ITS_TEST_")]:
    del os.environ[_name]

from bench import (  # noqa: E402
    attachments,
    contracts_post,
    contracts_processing,
    downloads,
    http_me,
    knowledge_search,
    login,
    pipeline,
    portal_pages,
    rates,
    registration_numbers,
    scaling,
    support_status,
    update_plan,
)
from bench.common import Result, print_table  # noqa: E402

Benchmark = Callable[[bool], Coroutine[Any, Any, Result]]

BENCHMARKS: dict[str, Benchmark] = {
    "pipeline": lambda quick: pipeline.run(events=1_000, rounds=1) if quick else pipeline.run(),
    "http_me": lambda quick: http_me.run(rounds=1, seconds=2) if quick else http_me.run(),
    "healthz": lambda quick: http_me.run_healthz(rounds=1, seconds=2) if quick else http_me.run_healthz(),
    "login": lambda quick: login.run(requests=5) if quick else login.run(),
    "registration_numbers": lambda quick: (
        registration_numbers.run(count=2_000) if quick else registration_numbers.run()
    ),
    "contracts_post": lambda quick: contracts_post.run(rounds=1, seconds=2) if quick else contracts_post.run(),
    "contracts_processing": lambda quick: (
        contracts_processing.run(contracts=5_000, rounds=1) if quick else contracts_processing.run()
    ),
    "downloads": lambda quick: downloads.run(size=64 * 1024**2, rounds=1) if quick else downloads.run(),
    "downloads_concurrent": lambda quick: downloads.run_concurrent(count=100) if quick else downloads.run_concurrent(),
    "update_plan": lambda quick: update_plan.run(rounds=1, seconds=2, paced_seconds=5) if quick else update_plan.run(),
    "portal_pages": lambda quick: portal_pages.run(rounds=1, seconds=2) if quick else portal_pages.run(),
    "knowledge_search": lambda quick: (
        knowledge_search.run(questions=20_000, articles=1_000, rounds=1, seconds=2) if quick else knowledge_search.run()
    ),
    "attachments": lambda quick: attachments.run(rounds=1, warmup=1) if quick else attachments.run(),
    "support_status": lambda quick: support_status.run(rounds=1, seconds=2) if quick else support_status.run(),
    "scaling": lambda quick: scaling.run(quick=quick),
    "rates_history": lambda quick: rates.run_history(rounds=1) if quick else rates.run_history(),
    "rates_since": lambda quick: rates.run_since(rounds=1, seconds=2, paced_seconds=5) if quick else rates.run_since(),
}
# The broker and the database are shared (other test runs restart RabbitMQ, for one): a benchmark that
# crashes is run once more before it counts as failed.
ATTEMPTS = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"which to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="one short round each: checks that they run")
    args = parser.parse_args(argv)
    if unknown := [name for name in args.names if name not in BENCHMARKS]:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    results: list[Result] = []
    failed: list[str] = []
    # The load generators and the in-process references on the services' loop (shared/service_main.py): a Python
    # client on the same two cores costs the measured server less.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    for name in args.names or list(BENCHMARKS):
        print(f"bench: {name} ...", flush=True)
        started = time.monotonic()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                results.append(asyncio.run(BENCHMARKS[name](args.quick)))
                break
            except Exception:
                traceback.print_exc()
                if attempt == ATTEMPTS:
                    failed.append(name)
                else:
                    print(f"bench: {name} crashed (above); running it again", flush=True)
        print(f"bench: {name} took {time.monotonic() - started:.0f} s", flush=True)
    print()
    print_table(results)
    if failed:
        print(f"\nbench: could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
