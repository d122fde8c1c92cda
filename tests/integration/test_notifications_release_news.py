"""Release news (UPD-3) against the real PostgreSQL, RabbitMQ and SMTP sink: identity's and registration's events
build the read models, `updates.release.published` e-mails the owners of the subscribers registered for the
configuration (a platform release: with any active product), once per (release, account), except to accounts that
turned release news off, with `GET/PUT /v1/preferences` or the one-click unsubscribe link (RFC 8058)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from services.notifications import read_models, store
from services.notifications.consumers import IDENTITY_QUEUE, REGISTRATION_QUEUE, UPDATES_QUEUE, release_news
from services.notifications.releases import ReleaseLinks
from services.notifications.rendering import Renderer
from services.notifications.unsubscribe import sign
from shared.bus import Bus
from shared.clock import SystemClock
from shared.db import Connection, Pool, close_pool, create_pool
from shared.events import Envelope, Event, wrap
from shared.events.identity import AccountRegistered, EmailVerified, Language, SubscriberCreated, SubscriberRenamed
from shared.events.registration import ProductActivated, ProductRegistered, ProductTransferred
from shared.events.updates import ReleasePublished
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.test_notifications import body, mail_to, notifications, publish
from tests.tokens import TestKeys

PUBLIC = "https://its.test"  # the system's public address: every link of the e-mails starts with it
SECRET = "integration-test-unsubscribe-secret"
SETTINGS = {"public_url": PUBLIC, "unsubscribe_secret": SECRET}
WHATS_NEW = (
    "## New\n\n- VAT rates for **2030**\n- Faster <posting> of documents\n\nSee [the notes](https://docs.test/n)."
)

_numbers = itertools.count(1)


# ---- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def publisher(migrated: TestStack) -> AsyncIterator[Bus]:
    bus = Bus(migrated.amqp_url, name="notifications-release-test-publisher", prefetch=1, delivery_limit=20)
    await bus.connect()
    yield bus
    await bus.close()


@pytest.fixture(scope="module")
async def pool(migrated: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(migrated.database_url, "notifications", min_size=1, max_size=4)
    yield pool
    await close_pool(pool)


@pytest.fixture
async def service(migrated: TestStack, smtp_sink: int, keys: TestKeys) -> AsyncIterator[RunningApp]:
    async with notifications(keys, smtp_sink, **SETTINGS) as running:
        yield running


def envelope(event: Event, producer: str, at: datetime | None = None) -> Envelope:
    return wrap(event, producer=producer, occurred_at=at or datetime.now(UTC))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Owner:
    account_id: uuid.UUID
    login: str
    email: str
    subscriber_id: uuid.UUID
    code: str
    name: str


@dataclass
class World:
    """Events for the read models, published together and waited for (three queues: no order between them)."""

    publisher: Bus
    pool: Pool
    sent: list[Envelope]

    async def owner(self, language: Language = "en", full_name: str | None = "Olga Owner") -> Owner:
        """SUB-1: an account and the subscriber it owns."""
        login = unique("olga")
        owner = Owner(uuid.uuid4(), login, f"{login}@example.com", uuid.uuid4(), unique("CL-"), f"Romashka {login}")
        await self.send(
            envelope(
                AccountRegistered(
                    account_id=owner.account_id,
                    login=login,
                    email=owner.email,
                    full_name=full_name,
                    language=language,
                ),
                "identity",
            ),
            envelope(
                SubscriberCreated(
                    subscriber_id=owner.subscriber_id,
                    code=owner.code,
                    name=owner.name,
                    owner_account_id=owner.account_id,
                ),
                "identity",
            ),
        )
        return owner

    async def product(
        self, owner: Owner, configurations: list[str], *, active_in: timedelta = -timedelta(hours=1)
    ) -> str:
        """A product registered to the owner's subscriber; active `active_in` from now (negative: already)."""
        number = f"{next(_numbers):011d}"
        active_from = datetime.now(UTC) + active_in
        registered = envelope(
            product_event(ProductRegistered, number, owner, configurations, active_from), "registration"
        )
        await self.send(registered)
        if active_in <= timedelta(0):
            await self.send(
                envelope(product_event(ProductActivated, number, owner, configurations, active_from), "registration")
            )
        return number

    async def send(self, *envelopes: Envelope) -> None:
        for item in envelopes:
            await publish(self.publisher, item)
            self.sent.append(item)

    async def settled(self) -> None:
        """Every event sent so far is handled (in the inbox of one of notifications' queues)."""
        ids = [e.id for e in self.sent]

        async def handled() -> bool:
            count = await self.pool.fetchval(
                "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[]) AND consumer = ANY($2::text[])",
                ids,
                [IDENTITY_QUEUE, REGISTRATION_QUEUE],
            )
            return bool(count == len(set(ids)))

        await wait_for(handled, what="the read models' events handled")


def product_event(
    model: type[ProductRegistered] | type[ProductActivated],
    number: str,
    owner: Owner,
    configurations: list[str],
    active_from: datetime,
) -> ProductRegistered | ProductActivated:
    return model(
        registration_number=number,
        subscriber_id=owner.subscriber_id,
        subscriber_code=owner.code,
        article="4601546100001",
        product_name="1C:Accounting PROF",
        edition="PROF",
        configurations=configurations,
        its_required=True,
        purchase_date=date(2030, 1, 10),
        registered_by="self",
        active_from=active_from,
    )


@pytest.fixture
def world(publisher: Bus, pool: Pool) -> World:
    return World(publisher, pool, [])


def published(
    configuration: str | None,
    *,
    version: str = "3.0.41.60",
    release_id: uuid.UUID | None = None,
    prerelease: bool = False,
) -> Envelope:
    event = ReleasePublished(
        release_id=release_id or uuid.uuid4(),
        kind="platform" if configuration is None else "configuration",
        configuration=configuration,
        configuration_name=f"Accounting <{configuration}>" if configuration else None,
        version=version,
        release_date=date(2030, 3, 1),
        its_issue="ITS 2030/03",
        prerelease=prerelease,
        whats_new=WHATS_NEW,
        min_platform="8.3.24" if configuration else None,
        grade="mandatory" if configuration is None else None,
    )
    return envelope(event, "updates")


async def announced(pool: Pool, release: Envelope) -> asyncpg.Record | None:
    """The release's announcement (None: not announced), once its event is handled."""
    await wait_for(
        lambda: pool.fetchval(
            "SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2", UPDATES_QUEUE, release.id
        ),
        what="the release event handled",
    )
    return await pool.fetchrow("SELECT * FROM release_announcements WHERE release_id = $1", release.data["release_id"])


async def recipients(pool: Pool, release: Envelope) -> set[str]:
    rows = await pool.fetch("SELECT recipient FROM deliveries WHERE event_id = $1", release.id)
    return {row["recipient"] for row in rows}


async def sent_to(pool: Pool, release: Envelope, count: int) -> None:
    """Wait until the release's `count` deliveries are sent."""

    async def all_sent() -> bool:
        sent = await pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE event_id = $1 AND status = 'sent'", release.id
        )
        return bool(sent == count)

    await wait_for(all_sent, what=f"{count} release e-mails sent")


def release_mail(mail_dir: Path, address: str) -> list[EmailMessage]:
    return [m for m in mail_to(mail_dir, address) if "Auto-Submitted" in m and "List-Unsubscribe" in m]


def unsubscribe_token(message: EmailMessage) -> str:
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{PUBLIC}/unsubscribe?token=")  # the portal's page
    return parse_qs(urlsplit(link).query)["token"][0]


async def preferences(service: RunningApp, token: str) -> tuple[int, Any]:
    async with service.http.get("/v1/preferences", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def put_preferences(service: RunningApp, token: str, body: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with service.http.put("/v1/preferences", json=body, headers=headers) as response:
        return response.status, await response.json()


def person_token(keys: TestKeys, owner: Owner) -> str:
    return keys.token(account_id=owner.account_id, login=owner.login)


# ---- UPD-3: who is told ------------------------------------------------------------------------


async def test_owners_of_subscribers_registered_for_the_configuration_get_the_release_and_no_one_else(
    service: RunningApp, world: World, pool: Pool, mail_dir: Path, keys: TestKeys
) -> None:
    configuration, other = unique("ACC"), unique("TRADE")
    registered = await world.owner()
    russian = await world.owner(language="ru", full_name=None)
    several = await world.owner()  # two products with the configuration: still one e-mail
    other_configuration = await world.owner()
    not_yet_active = await world.owner()  # REG-3: self-registered minutes ago, access starts later
    moved_away = await world.owner()  # the product was transferred to `moved_to`
    moved_to = await world.owner()
    opted_out = await world.owner()
    nothing = await world.owner()
    await world.product(registered, [configuration, other])
    await world.product(russian, [configuration])
    await world.product(several, [configuration])
    await world.product(several, [configuration])
    await world.product(other_configuration, [other])
    await world.product(not_yet_active, [configuration], active_in=timedelta(minutes=15))
    number = await world.product(moved_away, [configuration])
    await world.send(
        envelope(
            ProductTransferred(
                **product_event(
                    ProductActivated, number, moved_to, [configuration], datetime.now(UTC) - timedelta(hours=1)
                ).model_dump(),
                from_subscriber_id=moved_away.subscriber_id,
                from_subscriber_code=moved_away.code,
                reason="sold with the business",
            ),
            "registration",
        )
    )
    await world.product(opted_out, [configuration])
    await world.settled()
    assert (await put_preferences(service, person_token(keys, opted_out), {"release_news": False}))[0] == 200

    release = published(configuration)
    await publish(world.publisher, release)

    row = await announced(pool, release)
    told = {registered, russian, several, moved_to}
    assert row is not None
    assert (row["event_id"], row["recipients"]) == (release.id, len(told))
    assert await recipients(pool, release) == {o.email for o in told}
    await sent_to(pool, release, len(told))
    for owner in (other_configuration, not_yet_active, moved_away, opted_out, nothing):
        assert release_mail(mail_dir, owner.email) == []

    [message] = release_mail(mail_dir, registered.email)
    assert message["To"] == registered.email
    assert message["Subject"] == f"Accounting <{configuration}> 3.0.41.60 is released"
    assert message["Message-ID"] == f"<{release.id}.{registered.account_id}@its-portal.local>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = body(message, "plain"), body(message, "html")
    page = f"{PUBLIC}/releases/{configuration}/3.0.41.60"
    for part in (text, html):
        assert page in part
        assert "1 March 2030" in part
        assert "ITS 2030/03" in part
        assert "8.3.24" in part
        assert registered.code in part
    assert "- VAT rates for 2030\n- Faster <posting> of documents" in text  # what's new, as plain text
    assert "See the notes (https://docs.test/n)." in text
    assert "Faster &lt;posting&gt; of documents" in html
    assert "<posting>" not in html
    assert f'href="{PUBLIC}/unsubscribe?token=' in html
    assert f'href="{PUBLIC}/notifications"' in html  # the notification settings the e-mail mentions
    assert f"{PUBLIC}/notifications" in text
    assert text.startswith("Hello, Olga Owner!")

    [letter] = release_mail(mail_dir, russian.email)
    assert letter["Subject"] == f"Вышел релиз 3.0.41.60 конфигурации «Accounting <{configuration}>»"
    assert body(letter, "plain").startswith(f"Здравствуйте, {russian.login}!")  # no full name: the login
    assert "01.03.2030" in body(letter, "plain")
    assert len(release_mail(mail_dir, several.email)) == 1


async def test_a_platform_release_goes_to_the_owners_of_every_subscriber_with_an_active_product(
    service: RunningApp, world: World, pool: Pool, mail_dir: Path
) -> None:
    first, second = await world.owner(), await world.owner()
    pending, without = await world.owner(), await world.owner()
    await world.product(first, [unique("ACC")])
    await world.product(second, [unique("HRM")])
    await world.product(pending, [unique("ACC")], active_in=timedelta(minutes=15))
    await world.settled()

    release = published(None, version="8.3.25.1345")
    await publish(world.publisher, release)

    await announced(pool, release)
    mine = {first.email, second.email, pending.email, without.email}
    assert await recipients(pool, release) & mine == {first.email, second.email}
    await wait_for(lambda: release_mail(mail_dir, second.email), what="the platform e-mail")
    [message] = release_mail(mail_dir, first.email) or await wait_for(
        lambda: release_mail(mail_dir, first.email), what="the platform e-mail"
    )
    assert message["Subject"] == "Platform 8.3.25.1345 is released"
    text = body(message, "plain")
    assert f"{PUBLIC}/releases/platform/8.3.25.1345" in text
    assert "Update: mandatory" in text
    assert release_mail(mail_dir, pending.email) == []
    assert release_mail(mail_dir, without.email) == []


async def test_a_prerelease_is_not_announced(service: RunningApp, world: World, pool: Pool, mail_dir: Path) -> None:
    configuration = unique("ACC")
    owner = await world.owner()
    await world.product(owner, [configuration])
    await world.settled()

    release = published(configuration, version="3.1.0.5", prerelease=True)
    await publish(world.publisher, release)

    assert await announced(pool, release) is None
    assert await recipients(pool, release) == set()
    await asyncio.sleep(0.5)
    assert release_mail(mail_dir, owner.email) == []


# ---- once per (release, account) ------------------------------------------------------------------


async def test_a_redelivered_or_republished_release_sends_one_email_to_each_owner(
    service: RunningApp, world: World, pool: Pool, mail_dir: Path
) -> None:
    configuration = unique("ACC")
    owners = [await world.owner() for _ in range(3)]
    for owner in owners:
        await world.product(owner, [configuration])
    await world.settled()

    release = published(configuration)
    await publish(world.publisher, release)
    await publish(world.publisher, release)  # the same event twice (a redelivery)
    again = published(configuration, release_id=uuid.UUID(release.data["release_id"]))  # announced anew
    await publish(world.publisher, again)

    first = await announced(pool, release)
    assert first is not None
    assert first["event_id"] == release.id
    assert await announced(pool, again) == first  # the second event finds the release announced
    await sent_to(pool, release, len(owners))
    await asyncio.sleep(1.0)  # time for any second e-mail to arrive
    for owner in owners:
        assert len(release_mail(mail_dir, owner.email)) == 1
    assert await recipients(pool, again) == set()
    jobs = await pool.fetchval(
        "SELECT count(*) FROM deferred_jobs j JOIN deliveries d ON (j.payload->>'delivery_id')::bigint = d.id "
        "WHERE d.event_id = $1",
        release.id,
    )
    assert jobs == len(owners)


# ---- opting out ----------------------------------------------------------------------------------


async def test_the_unsubscribe_token_reads_on_get_and_unsubscribes_on_post(
    service: RunningApp, world: World, pool: Pool, mail_dir: Path, keys: TestKeys
) -> None:
    configuration = unique("ACC")
    owner = await world.owner(language="ru")
    await world.product(owner, [configuration])
    await world.settled()
    first = published(configuration, version="3.0.41.60")
    await publish(world.publisher, first)
    [message] = await wait_for(lambda: release_mail(mail_dir, owner.email), what="the release e-mail")
    token = unsubscribe_token(message)
    path = f"/v1/unsubscribe?token={token}"

    # The portal's page asks first (a link scanner, or the person before deciding), in the account's language.
    async with service.http.get(path) as response:
        assert response.status == 200
        assert await response.json() == {"language": "ru", "release_news": True}
    assert (await preferences(service, person_token(keys, owner)))[1]["release_news"] is True

    # The portal passes on what a mail provider's one-click button (RFC 8058) or the page's button sends.
    async with service.http.post(path) as response:
        assert response.status == 200
        assert await response.json() == {"language": "ru", "release_news": False}
    assert (await preferences(service, person_token(keys, owner)))[1]["release_news"] is False
    async with service.http.post(path) as response:  # again: the same outcome
        assert response.status == 200

    second = published(configuration, version="3.0.42.10")
    await publish(world.publisher, second)
    await announced(pool, second)
    assert owner.email not in await recipients(pool, second)
    await asyncio.sleep(0.5)
    assert len(release_mail(mail_dir, owner.email)) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_tampered_or_foreign_unsubscribe_link_is_refused(
    service: RunningApp, keys: TestKeys, method: str
) -> None:
    account_id = uuid.uuid4()
    token = sign(SECRET.encode(), account_id)
    version, account, mac = token.split(".")
    other_account = sign(SECRET.encode(), uuid.uuid4()).split(".")[1]
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    refused = [
        f"{version}.{account}.{flipped}",  # the signature changed
        f"{version}.{other_account}.{mac}",  # another account's id under this signature
        sign(b"someone-elses-secret-key", account_id),  # signed with another key
        f"u2.{account}.{mac}",
        "not-a-token",
    ]
    for bad in refused:
        async with service.http.request(method, "/v1/unsubscribe", params={"token": bad}) as response:
            assert response.status == 403, bad
            assert response.content_type == "application/problem+json"
            assert (await response.json())["type"].endswith("/unsubscribe-link-invalid")
    status, body_ = await preferences(service, keys.token(account_id=account_id, login="x"))
    assert (status, body_["release_news"]) == (200, True)  # nothing changed
    async with service.http.request(method, "/v1/unsubscribe") as response:
        assert response.status == 422  # no token at all


async def test_preferences_are_the_accounts_own_and_default_to_release_news_on(
    service: RunningApp, keys: TestKeys
) -> None:
    account_id = uuid.uuid4()
    token = keys.token(account_id=account_id, login="olga")
    on, off = {"release_news": True, "muted_configurations": []}, {"release_news": False, "muted_configurations": []}
    assert await preferences(service, token) == (200, on)
    assert await put_preferences(service, token, {"release_news": False}) == (200, off)
    assert await preferences(service, token) == (200, off)
    assert await preferences(service, keys.token(login="someone")) == (200, on)  # another
    assert await put_preferences(service, token, {"release_news": True}) == (200, on)
    assert await preferences(service, token) == (200, on)


@pytest.mark.parametrize(
    ("body_", "field"),
    [({"release_news": "no"}, "release_news"), ({}, "release_news"), ({"release_news": True, "sms": 1}, "sms")],
)
async def test_bad_preferences_are_a_problem(service: RunningApp, keys: TestKeys, body_: Any, field: str) -> None:
    status, problem = await put_preferences(service, keys.token(login="olga"), body_)
    assert status == 422
    assert [error["field"] for error in problem["errors"]] == [field]


async def test_preferences_need_a_persons_token(service: RunningApp, keys: TestKeys) -> None:
    async with service.http.get("/v1/preferences") as response:
        assert response.status == 401
    partner_system = keys.token(scope="partner", partner={"id": str(uuid.uuid4()), "admin": False})
    status, problem = await preferences(service, partner_system)
    assert status == 403
    assert problem["type"].endswith("/person-only")
    async with service.http.get("/openapi.json") as response:
        paths = (await response.json())["paths"]
    assert set(paths["/v1/preferences"]) == {"get", "put"}
    assert set(paths["/v1/unsubscribe"]) == {"get", "post"}


# ---- read models: duplicates and events out of order -------------------------------------------------


async def handle(pool: Pool, *envelopes: Envelope) -> None:
    handlers = {
        AccountRegistered.TYPE: read_models.account_registered,
        EmailVerified.TYPE: read_models.email_verified,
        SubscriberCreated.TYPE: read_models.subscriber_created,
        SubscriberRenamed.TYPE: read_models.subscriber_renamed,
        ProductRegistered.TYPE: read_models.product_registered,
        ProductActivated.TYPE: read_models.product_activated,
        ProductTransferred.TYPE: read_models.product_transferred,
    }
    async with pool.acquire() as conn:
        for item in envelopes:
            await handlers[item.type](conn, item)


async def test_read_models_keep_the_newest_state_whatever_order_and_how_often_events_arrive(
    migrated: TestStack, pool: Pool
) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=2)
    owner = Owner(uuid.uuid4(), "ivan", "old@example.com", uuid.uuid4(), unique("CL-"), "Old name")
    configuration = unique("ACC")
    registered = envelope(
        AccountRegistered(
            account_id=owner.account_id, login="ivan", email="old@example.com", full_name="Ivan", language="ru"
        ),
        "identity",
        t0,
    )
    verified_new = envelope(
        EmailVerified(account_id=owner.account_id, email="new@example.com"), "identity", t0 + timedelta(minutes=5)
    )
    created = envelope(
        SubscriberCreated(
            subscriber_id=owner.subscriber_id, code=owner.code, name="Old name", owner_account_id=owner.account_id
        ),
        "identity",
        t0,
    )
    renamed = envelope(
        SubscriberRenamed(subscriber_id=owner.subscriber_id, code=owner.code, name="New name"),
        "identity",
        t0 + timedelta(minutes=1),
    )
    number = f"{next(_numbers):011d}"
    pending = envelope(
        product_event(ProductRegistered, number, owner, [configuration], t0 + timedelta(minutes=15)), "registration", t0
    )
    active = envelope(
        product_event(ProductActivated, number, owner, [configuration], t0 + timedelta(minutes=15)),
        "registration",
        t0 + timedelta(minutes=15),
    )

    # Newest first, then the older ones, each twice: the older never win.
    await handle(
        pool, verified_new, renamed, active, registered, created, pending, registered, created, pending, active
    )

    async with pool.acquire() as conn:
        [told] = await store.owners_to_tell(conn, configuration=configuration, at=datetime.now(UTC))
    assert (told.account_id, told.email, told.full_name, told.language) == (
        owner.account_id,
        "new@example.com",
        "Ivan",
        "ru",
    )
    assert told.subscribers == [("New name", owner.code)]
    async with pool.acquire() as conn:  # before it was active, the owner would not have been told (REG-3)
        assert await store.owners_to_tell(conn, configuration=configuration, at=t0 + timedelta(minutes=10)) == []


async def test_an_account_in_a_language_we_have_no_templates_for_is_written_to_in_english(pool: Pool) -> None:
    account_id = uuid.uuid4()
    registered = envelope(
        AccountRegistered(account_id=account_id, login="hans", email="hans@example.com", full_name=None),
        "identity",
    )
    registered.data["language"] = "de"  # identity learnt a language before we have its templates
    await handle(pool, registered)
    assert await pool.fetchval("SELECT language FROM accounts WHERE id = $1", account_id) == "en"


async def test_the_owners_of_a_configuration_are_found_through_an_index(pool: Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: make the planner show its hand
        plan = "\n".join(
            row[0] for row in await conn.fetch(f"EXPLAIN {store.CONFIGURATION_OWNERS}", "ACC", datetime.now(UTC))
        )
    assert "registered_products_configurations" in plan, plan


# ---- fan-out: thousands of owners, one transaction, a few statements ---------------------------------


async def test_a_release_to_thousands_of_owners_is_written_in_batches(migrated: TestStack, pool: Pool) -> None:
    """The handler itself, in a transaction rolled back afterwards (the owners are not left for other tests)."""
    owners = 3000
    configuration = unique("ACC")
    release = published(configuration)
    handler = release_news(Renderer(), SystemClock(), _links())
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(
                "INSERT INTO accounts (id, login, full_name, language, profile_at, email, email_at) "
                "SELECT gen_random_uuid(), 'o' || n, 'Owner ' || n, CASE WHEN n % 2 = 0 THEN 'ru' ELSE 'en' END, "
                "now(), 'o' || n || '@fan.example', now() FROM generate_series(1, $1) AS n",
                owners,
            )
            await conn.execute(
                "INSERT INTO subscribers (id, code, name, name_at, owner_account_id) "
                "SELECT gen_random_uuid(), 'CL-' || a.login, 'S ' || a.login, now(), a.id "
                "FROM accounts a WHERE a.email LIKE '%@fan.example'"
            )
            await conn.execute(
                "INSERT INTO registered_products (registration_number, subscriber_id, configurations, active_from, "
                "updated_at) SELECT 'fan-' || s.code, s.id, ARRAY[$1], now() - interval '1 day', now() "
                "FROM subscribers s WHERE s.code LIKE 'CL-o%' AND s.name LIKE 'S o%'",
                configuration,
            )
            counting = CountingConnection(conn)
            started = time.perf_counter()
            await handler(cast(Connection, counting), release)
            elapsed = time.perf_counter() - started
            await handler(conn, release)  # the same event again: nothing more

            deliveries = await conn.fetchval(
                "SELECT count(DISTINCT account_id) FROM deliveries WHERE event_id = $1", release.id
            )
            jobs = await conn.fetchval(
                "SELECT count(*) FROM deferred_jobs WHERE kind = 'send_email' AND dedupe_key = ANY("
                "SELECT 'delivery:' || id FROM deliveries WHERE event_id = $1)",
                release.id,
            )
            rows = await conn.fetch(
                "SELECT language, count(*) AS n FROM deliveries WHERE event_id = $1 GROUP BY 1", release.id
            )
            languages = {row["language"]: row["n"] for row in rows}
        finally:
            await transaction.rollback()
    assert deliveries == owners
    assert jobs == owners
    assert languages == {"en": owners // 2, "ru": owners // 2}
    # Per 500 owners one insert of deliveries and one of jobs, not a statement per owner.
    assert counting.statements <= 3 + 2 * -(-owners // 500), counting.statements
    assert elapsed < 10, elapsed


class CountingConnection:
    """A connection that counts the statements sent through it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("execute", "executemany", "fetch", "fetchrow", "fetchval"):
            self.statements += 1
        return getattr(self.conn, name)


def _links() -> ReleaseLinks:
    return ReleaseLinks(public_url=PUBLIC, secret=SECRET.encode())
