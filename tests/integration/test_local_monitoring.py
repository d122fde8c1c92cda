"""The local stack's monitoring, what `make run` starts: Prometheus (devtools/prometheus.py) scrapes the services it
is given and RabbitMQ's own endpoint, tells a target that does not answer and has the project's rules loaded;
Alertmanager (devtools/alertmanager.py, deploy/prometheus/alertmanager.yml) mails an alert through the SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp

from devtools import alertmanager, prometheus
from devtools.pids import is_ours
from devtools.smtp_sink import wait_for_mail
from devtools.stack import Proc
from shared.app import create_app
from shared.http import Api
from shared.settings import BaseServiceSettings
from tests.infra import AMQP_BASE, ROOT, RunningApp, free_port, wait_for


@contextlib.asynccontextmanager
async def devtool(module: str, args: list[str], env: dict[str, str], log: Path) -> AsyncIterator[Callable[[], bool]]:
    """`python -m devtools.<module> run ...` as `make run` starts it; stopped with SIGTERM, as `make stop` does,
    and expected to end cleanly. Yields whether `make stop` would know the process for the stack's (its pid
    running that module: devtools.pids.is_ours)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"devtools.{module}", "run", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield lambda: is_ours(process.pid, Proc(module, f"devtools.{module}", 0))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), 20)
            finally:
                if process.poll() is None:
                    process.kill()
    assert process.returncode == 0, tail(log)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def query(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["status"] == "success", body
    return body["data"]


async def test_the_local_prometheus_scrapes_the_services_and_loads_the_rules(tmp_path: Path) -> None:
    assert prometheus.available(), "prometheus is missing: `make infra` installs Debian's package"
    app = create_app(BaseServiceSettings(), service="prometheus-test", api=Api("Prometheus test"))
    silent, port = free_port(), free_port()  # a service that is down; Prometheus
    base = f"http://127.0.0.1:{port}"
    env = {"ITS_VAR_DIR": str(tmp_path), "ITS_PROMETHEUS_PORT": str(port)}
    async with RunningApp(app) as service:
        targets = ["--target", f"identity=127.0.0.1:{service.port}", "--target", f"contracts=127.0.0.1:{silent}"]
        targets += ["--broker", f"127.0.0.1:{prometheus.BROKER_PORT}"]  # the test broker's plugin (make infra)
        async with (
            devtool("prometheus", targets, env, tmp_path / "prometheus.log") as stack_knows_it,
            aiohttp.ClientSession() as http,
        ):

            async def scraped() -> bool:
                try:
                    found = await query(http, f"{base}/api/v1/targets")
                except aiohttp.ClientError:
                    return False
                health = {t["labels"]["job"]: t["health"] for t in found["activeTargets"]}
                return health == {"identity": "up", "contracts": "down", "rabbitmq": "up", "rabbitmq-queues": "up"}

            await wait_for(scraped, timeout=60, interval=0.5, what="every target scraped once")
            assert stack_knows_it(), "make stop would leave it running"
            up = await query(http, f'{base}/api/v1/query?query=up{{job="identity"}}')
            assert [r["value"][1] for r in up["result"]] == ["1"]
            # RabbitMQ's per-queue figures, which QueueBacklogGrowing reads: a queue of this test's, with a message.
            connection = await aio_pika.connect(f"{AMQP_BASE}/")
            try:
                channel = await connection.channel()
                queue = await channel.declare_queue(exclusive=True)
                await channel.default_exchange.publish(aio_pika.Message(b"waiting"), routing_key=queue.name)
                expr = f'rabbitmq_detailed_queue_messages_ready{{queue="{queue.name}"}}'

                async def waiting_one() -> bool:
                    found = await query(http, f"{base}/api/v1/query?query={urllib.parse.quote(expr)}")
                    return [r["value"][1] for r in found["result"]] == ["1"]

                await wait_for(waiting_one, timeout=60, interval=1, what="the queue's figure scraped")
            finally:
                await connection.close()
            groups = (await query(http, f"{base}/api/v1/rules"))["groups"]
            alerts = {rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"}
            assert {"ServiceDown", "EventsParked", "OutboxStuck", "ProcessingDayNotFinished"} <= alerts
            assert all(rule["health"] != "err" for group in groups for rule in group["rules"])


async def test_the_local_alertmanager_mails_a_page_to_on_call_through_the_sink(
    tmp_path: Path, smtp_sink: int, mail_dir: Path
) -> None:
    assert alertmanager.available(), "alertmanager is missing: `make infra` installs Debian's package"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"ITS_VAR_DIR": str(tmp_path), "ITS_ALERTMANAGER_PORT": str(port), "ITS_SMTP_PORT": str(smtp_sink)}
    alert = {
        "labels": {"alertname": "OutboxStuck", "severity": "page", "job": "contracts"},
        "annotations": {"summary": "contracts has events waiting more than a minute to be published"},
    }
    async with (
        devtool("alertmanager", [], env, tmp_path / "alertmanager.log") as stack_knows_it,
        aiohttp.ClientSession() as http,
    ):

        async def accepted() -> bool:
            try:
                async with http.post(f"{base}/api/v2/alerts", json=[alert]) as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(accepted, timeout=30, interval=0.3, what="alertmanager taking the alert")
        assert stack_knows_it(), "make stop would leave it running"
        _, mail = await wait_for_mail(mail_dir, to="on-call@its-portal.local", seconds=45)  # a page waits 10 s
        assert "OutboxStuck" in str(mail["Subject"])
        body = mail.get_body(("html", "plain"))
        assert body is not None
        assert "contracts has events waiting more than a minute" in body.get_content()
