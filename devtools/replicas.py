"""How many processes of each service the local stack runs (`make run REPLICAS=2`), and where each listens.

Replica 1 of a service is `<service>` on its base port (devtools.stack.SERVICE_PORTS), as without replicas; replica
n is `<service>-n` on the base port + PORT_STEP * (n - 1): identity 8101, 8201, …; the portal 8080, 8180, ….
`up` records the number in var/run/replicas, so that `down` and `status` reach every replica it started without
being told again.
"""

from __future__ import annotations

import os
from pathlib import Path

PORT_STEP = 100
MAX_REPLICAS = 9  # replica 9 of support is on 8906: clear of the gateway's, Prometheus' and Alertmanager's ports
ENV = "ITS_STACK_REPLICAS"


def recorded(record: Path) -> int | None:
    """The number `up` recorded, if any."""
    try:
        text = record.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def count(record: Path) -> int:
    """ITS_STACK_REPLICAS, else what `up` recorded, else 1."""
    chosen = os.environ.get(ENV)
    if not chosen:
        return recorded(record) or 1
    if not chosen.isdigit() or not 1 <= int(chosen) <= MAX_REPLICAS:
        raise SystemExit(f"{ENV}: {chosen!r} is not a number from 1 to {MAX_REPLICAS}")
    return int(chosen)


def name(service: str, n: int) -> str:
    return service if n == 1 else f"{service}-{n}"


def port(base: int, n: int) -> int:
    return base + PORT_STEP * (n - 1)
