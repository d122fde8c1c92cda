"""`itsctl dlq` knows every consumer queue: its list is the union of the queues the services' apps consume."""

from __future__ import annotations

import pytest

from itsctl.dlq import QUEUES
from shared.keys import CONSUMER_QUEUES
from tests.service_apps import SERVICES, service_app


def consumed_by(service: str) -> list[str]:
    return service_app(service).get(CONSUMER_QUEUES, [])


def test_itsctl_dlq_lists_every_queue_the_services_consume() -> None:
    assert set(QUEUES) == {queue for service in SERVICES for queue in consumed_by(service)}


@pytest.mark.parametrize("service", ["registration", "contracts", "updates", "notifications", "support"])
def test_each_consuming_service_records_its_queues(service: str) -> None:
    assert consumed_by(service), f"{service} consumes events but its app records no queue"
