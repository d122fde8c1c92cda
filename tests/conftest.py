"""Fixtures shared by all tests: a database and vhost of this run's own, settings, the SMTP sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra import TestStack, create_stack, drop_stack, migrate_all

pytest_plugins = ["tests.hangs"]

FAULTS = Path(__file__).parent / "faults"


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
    """The fault experiments (tests/faults: servers stopped and processes killed, minutes long) run only when
    asked for by path, as `make test-faults` does; `make test` leaves them out."""
    if collection_path != FAULTS:
        return None
    asked = (Path(config.invocation_params.dir, str(arg).split("::")[0]).resolve() for arg in config.args)
    return not any(path == FAULTS or FAULTS in path.parents for path in asked)


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    # Unit tests first: they fail fastest.
    order = {"unit": 0, "integration": 1, "e2e": 2, "contract": 3}
    items.sort(key=lambda item: next((v for k, v in order.items() if f"/{k}/" in str(item.fspath)), 1))
