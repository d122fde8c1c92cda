"""Fixtures shared by all tests: a database and vhost of this run's own, settings, the SMTP sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra import TestStack, create_stack, drop_stack, migrate_all

pytest_plugins = ["tests.hangs"]

# Run only when asked for by path, each by a make target of its own that CI also runs (.ci/run): the fault
# experiments (servers stopped and processes killed, minutes long: `make test-faults`), the scale test (two replicas
# of every service under load: `make test-scale`) and schemathesis against every
# service (a few minutes of generated requests: `make test-api`), so that `make test` stays well within 20 minutes.
OWN_TARGETS = (
    Path(__file__).parent / "faults",
    Path(__file__).parent / "scale",
    Path(__file__).parent / "contract" / "test_schemathesis.py",
)


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
async def stack(var_dir: Path) -> AsyncIterator[TestStack]:
    stack = await create_stack(var_dir)
    saved = dict(os.environ)
    # Settings objects built in this process read the same values as the service processes.
    os.environ.update({k: v for k, v in stack.env().items() if k.startswith("ITS_")})
    try:
        yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        await drop_stack(stack)


@pytest.fixture(scope="session")
async def migrated(stack: TestStack) -> TestStack:
    """Every service's schema migrated in this run's database."""
    await migrate_all(stack.database_url)
    return stack


@pytest.fixture(scope="session")
def mail_dir(var_dir: Path) -> Path:
    path = var_dir / "mail"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def smtp_sink(mail_dir: Path) -> Iterator[int]:
    """The development SMTP sink, in this process; yields its port."""
    from devtools.smtp_sink import start_sink
    from tests.infra import free_port

    port = free_port()
    handle = start_sink(mail_dir, "127.0.0.1", port)
    try:
        yield port
    finally:
        handle.stop()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """OWN_TARGETS are collected only when asked for by path (they or a test in them); `make test` leaves them out."""
    if collection_path not in OWN_TARGETS:
        return None
    asked = (Path(config.invocation_params.dir, str(arg).split("::")[0]).resolve() for arg in config.args)
    return not any(path == collection_path or collection_path in path.parents for path in asked)


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    # Unit tests first: they fail fastest.
    order = {"unit": 0, "integration": 1, "e2e": 2, "contract": 3}
    items.sort(key=lambda item: next((v for k, v in order.items() if f"/{k}/" in str(item.fspath)), 1))
