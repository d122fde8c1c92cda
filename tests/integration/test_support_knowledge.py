"""SUP-2 against a support app in this process, the real PostgreSQL and RabbitMQ: the subscriber's questions and
answers and the vendor's articles (from updates' events) found by a word in another grammatical form, a misspelled
word corrected, only what the caller may see, filters, ranking, safe snippets, bad queries refused or empty."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from services.support.settings import SupportSettings
from shared.clock import local_date
from shared.events import Envelope
from shared.events.identity import MemberExcluded
from shared.events.updates import ArticleSaved, ArticleWithdrawn
from tests.infra import wait_for
from tests.integration.support_fixtures import (
    PROBLEM,
    Customer,
    World,
    attachments_dir,
    keys,
    pool,
    publisher,
    support,
    world,
)

__all__ = ["attachments_dir", "keys", "pool", "publisher", "support", "world"]  # fixtures

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def search(world: World, headers: dict[str, str], q: str, **params: Any) -> tuple[int, Any]:
    return await world.call("GET", "/v1/knowledge/search?" + urlencode({"q": q, **params}), headers)


async def found(world: World, headers: dict[str, str], q: str, **params: Any) -> list[str]:
    status, page = await search(world, headers, q, **params)
    assert status == 200, page
    return [item["id"] for item in page["items"]]


async def feedback(world: World, headers: dict[str, str], subject: str, body: str, **fields: Any) -> str:
    status, asked = await world.ask(headers, None, kind="feedback", subject=subject, body=body, **fields)
    assert status == 201, asked
    return str(asked["id"])


async def answer(world: World, question_id: str, body: str) -> None:
    status, message = await world.call(
        "POST", f"/v1/questions/{question_id}/messages", world.operator(), json={"body": body, "minutes_spent": 5}
    )
    assert status == 201, message


async def article(world: World, slug: str, title: str, body: str, **fields: Any) -> Envelope:
    event = ArticleSaved(
        slug=slug,
        configuration=fields.pop("configuration", None),
        kind=fields.pop("kind", "known_problem"),
        title=title,
        body=body,
        published_at=fields.pop("published_at", datetime.now(UTC)),
        updated_at=fields.pop("updated_at", datetime.now(UTC)),
    )
    return await world.publish(event, "updates")


async def handled(world: World, envelope: Envelope) -> None:
    await world.wait_for_row("SELECT 1 FROM inbox WHERE event_id = $1", envelope.id)


async def found_after_change(world: World, headers: dict[str, str], q: str, expected: list[str], **params: Any) -> None:
    """The search finds `expected` once the change committed is heard: the articles' rankings kept per query are
    forgotten on the change's notification, which comes a moment after the commit."""
    latest: list[list[str]] = []

    async def finds() -> bool:
        latest.append(await found(world, headers, q, **params))
        return sorted(latest[-1]) == sorted(expected)  # which, not in what order

    try:
        await wait_for(finds, timeout=5, what=f"{q!r} to find {expected}")
    except TimeoutError:
        raise AssertionError(f"{q!r} finds {latest[-1]}, not {expected}") from None


async def rankings_counted(world: World) -> dict[str, float]:
    """support's count of searches whose articles' ranking was kept (hit) or read (miss)."""
    status, text = await world.call("GET", "/metrics")
    assert status == 200
    counts = {"hit": 0.0, "miss": 0.0}
    for outcome, value in re.findall(r'^support_article_rankings_total\{outcome="(\w+)"\} (\S+)$', text.decode(), re.M):
        counts[outcome] = float(value)
    return counts


def today(world: World) -> date:
    """The day in the vendor's zone, as the filters and the answers count days."""
    return local_date(world.clock.now(), SupportSettings().vendor_zone)


def new_slug() -> str:
    return f"kb-{uuid.uuid4().hex[:10]}"


async def test_sup2_a_word_in_another_grammatical_form_finds_the_question_and_its_answer(world: World) -> None:
    customer = world.customer()
    owner = world.owner(customer)
    russian = await feedback(world, owner, "Договор не проводится", "При проведении документа программа зависает.")
    english = await feedback(world, owner, "Invoices", "The supplier invoice posting stops with an error.")
    await answer(world, english, "Check the **contracts** of the counterparty before posting.")

    assert russian in await found(world, owner, "договора")  # договор ← договора
    assert russian in await found(world, owner, "проведение документов")
    assert english in await found(world, owner, "invoice posted")  # invoices, posting
    assert english in await found(world, owner, "contract")  # in the answer, not the question
    assert await found(world, owner, "договора -проведении") == []  # websearch syntax: minus excludes
    assert russian not in await found(world, owner, "-договора")  # only a minus: what lacks the word
    compound = await feedback(world, owner, "Счёт-фактура на аванс", "Не формируется книга продаж.")
    assert compound in await found(world, owner, "счёт-фактуры")  # a phrase of its parts, in another form
    assert compound in await found(world, owner, '"книги продаж"')
    assert compound not in await found(world, owner, '"продаж книга"')  # a phrase keeps its order


async def test_sup2_the_index_of_the_subscribers_words_finds_every_match_and_nothing_of_another(world: World) -> None:
    """Migration 0005: the questions' index condition, `subscriber_words(subscriber, document) @@
    subscriber_query(subscriber, query)`, holds wherever `document @@ query` does, for queries of every kind the
    search makes (words, minus, phrases, OR, hyphenated and stop words), and never for another subscriber's words."""
    rng = random.Random(19)  # noqa: S311 (test data, not secrets)
    words = [
        *("договор", "договора", "договоров", "проведение", "проведении", "отпуск", "отпуска", "склад", "склада"),
        *("счёт-фактура", "счёт-фактуры", "книга", "продаж", "invoice", "invoices", "posting", "posted", "contract"),
        *("e-mail", "Wi-Fi", "1С:Предприятие", "8.3.24", "O'Neil's", "the", "and", "не", "и", "of"),
    ]

    def document() -> str:
        return " ".join(rng.choice(words) + rng.choice(["", "", ",", ".", "!"]) for _ in range(rng.randint(1, 12)))

    def part() -> str:
        one, two = rng.choice(words), rng.choice(words)
        return rng.choice([one, one, f"-{one}", f'"{one} {two}"', f"{one} or {two}", f'-"{one} {two}"', f"{one}:*"])

    documents = [document() for _ in range(300)]
    queries = [" ".join(part() for _ in range(rng.randint(1, 3))) for _ in range(300)]
    subscriber, another = uuid.uuid4(), uuid.uuid4()
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT subscriber_tag($1) <> subscriber_tag($2)", subscriber, another)
        counts = await conn.fetchrow(
            "WITH d AS (SELECT to_tsvector('russian', t) AS document FROM unnest($1::text[]) AS t), "
            "q AS (SELECT websearch_to_tsquery('russian', t) AS query FROM unnest($2::text[]) AS t) "
            "SELECT count(*) FILTER (WHERE document @@ query) AS matches, "
            "count(*) FILTER (WHERE subscriber_words($3, document) @@ subscriber_query($3, query)) AS candidates, "
            "count(*) FILTER (WHERE document @@ query "
            "AND NOT subscriber_words($3, document) @@ subscriber_query($3, query)) AS missed, "
            "count(*) FILTER (WHERE subscriber_words($4, document) @@ subscriber_query($3, query)) AS of_another "
            "FROM d, q",
            documents,
            queries,
            subscriber,
            another,
        )
    assert counts is not None
    assert counts["matches"] > 10_000, counts  # the queries find things, through every kind of operator
    assert counts["missed"] == 0, counts
    assert counts["of_another"] == 0, counts
    assert counts["candidates"] < len(documents) * len(queries) // 2, counts  # and the index narrows the search


async def test_sup2_a_misspelled_word_is_corrected_only_from_what_the_caller_may_see(world: World) -> None:
    customer, stranger = world.customer(), world.customer()
    owner = world.owner(customer)
    question = await feedback(world, owner, "Счёт-фактура", "Бухгалтерия печатает счёт-фактуру с ошибкой округления.")
    await feedback(world, world.owner(stranger), "Private", "Our zebrafinchery warehouse is closed.")

    status, page = await search(world, owner, "окргления")
    assert status == 200 and page["items"] == [] and page["suggestion"] == "округления", page
    assert question in await found(world, owner, page["suggestion"])
    status, page = await search(world, owner, "zebrafinchry")  # a word of another subscriber's question
    assert status == 200 and page["items"] == [] and page["suggestion"] is None, page
    status, page = await search(world, owner, "печатает")  # found: no suggestion
    assert page["suggestion"] is None and question in [item["id"] for item in page["items"]]


async def test_sup2_each_sees_their_own_the_shared_and_the_owner_all(world: World) -> None:
    customer = world.customer()
    owner, first, second = world.owner(customer), uuid.uuid4(), uuid.uuid4()
    mine = await feedback(world, world.member(customer, first), "Кадровый учёт", "Отпуск не рассчитывается")
    theirs = await feedback(world, world.member(customer, second), "Кадры", "Отпуска сотрудников не видны")
    owners = await feedback(world, owner, "Отпуск директора", "Как оформить отпуск")
    status, _ = await world.call("PUT", f"/v1/questions/{owners}/shared", owner, json={"shared": True})
    assert status == 200

    assert set(await found(world, world.member(customer, first), "отпуска")) == {mine, owners}
    assert set(await found(world, world.member(customer, second), "отпуска")) == {theirs, owners}
    assert set(await found(world, owner, "отпуска")) == {mine, theirs, owners}
    assert await found(world, world.owner(world.customer()), "отпуска") == []
    status, _ = await world.call("PUT", f"/v1/questions/{owners}/shared", owner, json={"shared": False})
    assert set(await found(world, world.member(customer, first), "отпуска")) == {mine}

    # SUB-6: excluded, the user sees nothing from the moment identity's event arrives. The token is one issued
    # before the exclusion (a token issued after it is a new grant: the person may have re-joined).
    before = world.member(customer, first)
    await world.publish(
        MemberExcluded(subscriber_id=customer.subscriber_id, account_id=first, excluded_at=world.clock.now()),
        "identity",
    )

    async def refused() -> bool:
        status, _ = await search(world, before, "отпуска")
        return status == 403

    await wait_for(refused, what="the exclusion to reach support")
    status, problem = await search(world, before, "отпуска")
    assert problem["type"] == PROBLEM + "membership-ended"
    status, problem = await search(world, world.operator(), "отпуска")  # no subscriber
    assert status == 403, problem


async def test_sup2_filters_by_configuration_and_date(world: World) -> None:
    customer = world.customer()
    owner = world.owner(customer)
    payroll = await feedback(world, owner, "Зарплата", "Налог на доходы", configuration="Payroll")
    accounting = await feedback(world, owner, "Налоги", "Налог на прибыль", configuration="Accounting")
    async with world.pool.acquire() as conn:  # asked a month ago
        await conn.execute(
            "UPDATE knowledge SET at = at - interval '30 days' WHERE kind = 'question' AND key = $1", accounting
        )
    day = today(world)
    assert set(await found(world, owner, "налоги")) == {payroll, accounting}
    assert await found(world, owner, "налоги", configuration="Payroll") == [payroll]
    assert await found(world, owner, "налоги", **{"from": str(day - timedelta(days=7))}) == [payroll]
    assert await found(world, owner, "налоги", to=str(day - timedelta(days=7))) == [accounting]
    assert await found(world, owner, "налоги", **{"from": str(day + timedelta(days=1))}) == []


async def test_sup2_ranking_puts_the_title_first_and_pages_follow_it(world: World) -> None:
    customer = world.customer()
    owner = world.owner(customer)
    in_body = await feedback(world, owner, "Вопрос", "Где найти регламентированный отчёт")
    in_title = await feedback(world, owner, "Регламентированный отчёт", "Не открывается форма")
    twice = await feedback(world, owner, "Вопрос о форме", "Регламентированный отчёт и ещё регламентированный отчёт")
    status, page = await search(world, owner, "регламентированные отчёты")
    assert status == 200
    ids = [item["id"] for item in page["items"]]
    assert ids == [in_title, twice, in_body], page  # the title weighs most, then twice in the body, then once
    ranks = [item["rank"] for item in page["items"]]
    assert ranks == sorted(ranks, reverse=True) and all(0 < r <= 1 for r in ranks)

    status, first = await search(world, owner, "регламентированные отчёты", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    status, rest = await search(world, owner, "регламентированные отчёты", limit=2, cursor=first["next_cursor"])
    assert status == 200 and rest["next_cursor"] is None
    assert [item["id"] for item in first["items"] + rest["items"]] == ids


async def test_sup2_the_snippet_highlights_the_words_and_is_safe(world: World) -> None:
    customer = world.customer()
    owner = world.owner(customer)
    body = "<script>alert(1)</script> Ошибка <b>тут</b> & a < b при закрытии месяца <img src=x onerror=alert(1)>"
    question = await feedback(world, owner, "Закрытие месяца", body)
    status, page = await search(world, owner, "закрытия")
    assert status == 200
    [item] = [item for item in page["items"] if item["id"] == question]
    snippet = item["snippet"]
    assert "<b>закрытии</b>" in snippet, snippet
    assert "<script" not in snippet and "<img" not in snippet and "&amp;" in snippet and "&lt;" in snippet
    without_marks = snippet.replace("<b>", "").replace("</b>", "")
    assert "<" not in without_marks and ">" not in without_marks, snippet
    assert item["kind"] == "question" and item["title"] == "Закрытие месяца"
    assert item["date"] == today(world).isoformat()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "договор " * 1_250}, "q"),  # 10,000 characters
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({}, "q"),
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "limit": "51"}, "limit"),
        ({"q": "x", "cursor": "bm90LW91cnM"}, "cursor"),
        ({"q": "x", "from": "2026-13-01"}, "from"),
        ({"q": "x", "to": "0001-01-01"}, "to"),
        ({"q": "x", "configuration": "<script>"}, "configuration"),
        ({"q": "x", "sort": "rank"}, "sort"),
    ],
)
async def test_sup2_bad_queries_are_refused_naming_the_field(world: World, params: dict[str, str], field: str) -> None:
    status, problem = await world.call(
        "GET", "/v1/knowledge/search?" + urlencode(params), world.owner(world.customer())
    )
    assert status == 422, problem
    assert field in {e["field"] for e in problem["errors"]}, problem


@pytest.mark.parametrize("q", ["!!! ,,, ...", "&|!():*<->", "the and of", "'\"\\", "-", "\u200b", "договор:*"])
async def test_sup2_punctuation_stop_words_and_operators_find_nothing_or_something_never_a_500(
    world: World, q: str
) -> None:
    status, page = await search(world, world.owner(world.customer()), q)
    assert status == 200, page
    assert page["next_cursor"] is None


async def test_sup2_articles_from_updates_events_changed_withdrawn_duplicates_and_malformed(world: World) -> None:
    customer = world.customer()
    owner, user = world.owner(customer), world.member(customer, uuid.uuid4())
    configuration = f"Kb{uuid.uuid4().hex[:8]}"
    slug, other = new_slug(), new_slug()
    # Not an envelope, and an envelope whose data does not fit: parked, the consumer goes on.
    await world.bus.publish("updates.article.saved", b"{", message_id="x", message_type="updates.article.saved")
    bad = Envelope(
        type="updates.article.saved", version=1, occurred_at=world.clock.now(), producer="updates", data={"slug": 5}
    )
    await world.bus.publish(bad.type, bad.model_dump_json().encode(), message_id=str(bad.id), message_type=bad.type)

    first = await article(
        world, slug, "Ошибка округления НДС", "Декларация по **НДС** округляет суммы.", configuration=configuration
    )
    await world.bus.publish(  # the same event delivered twice
        first.type, first.model_dump_json().encode(), message_id=str(first.id), message_type=first.type
    )
    await handled(world, first)
    status, page = await search(world, user, "округлять", configuration=configuration)
    assert status == 200 and [(i["kind"], i["id"]) for i in page["items"]] == [("article", slug)], page
    assert page["items"][0]["title"] == "Ошибка округления НДС" and "<b>" in page["items"][0]["snippet"]
    assert "**" not in page["items"][0]["snippet"]  # the Markdown's words, not its marks
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM knowledge WHERE key = $1", slug) == 1

    # Changed: the newer version replaces it; an older one delivered late changes nothing.
    now = datetime.now(UTC)
    await handled(
        world,
        await article(
            world,
            slug,
            "Rounding of VAT",
            "Fixed in 3.0.42",
            configuration=configuration,
            updated_at=now + timedelta(minutes=1),
        ),
    )
    await handled(
        world,
        await article(
            world, slug, "Stale", "Old text", configuration=configuration, updated_at=now - timedelta(days=1)
        ),
    )
    await found_after_change(world, owner, "округлять", [], configuration=configuration)
    assert await found(world, owner, "rounding", configuration=configuration) == [slug]
    assert await found(world, owner, "stale", configuration=configuration) == []

    # Withdrawn: gone; a save announced before the withdrawal and delivered after it does not bring it back.
    await handled(world, await article(world, other, "Backups", "Back up before updating", configuration=configuration))
    await found_after_change(world, owner, "backup", [other], configuration=configuration)
    withdrawn = ArticleWithdrawn(slug=other, withdrawn_at=datetime.now(UTC) + timedelta(minutes=1))
    await handled(world, await world.publish(withdrawn, "updates"))
    await found_after_change(world, owner, "backup", [], configuration=configuration)
    await handled(world, await article(world, other, "Backups", "Back up before updating", configuration=configuration))
    await asyncio.sleep(0.5)  # what a notification would have made forgotten (none is sent: nothing was saved)
    assert await found(world, owner, "backup", configuration=configuration) == []


async def test_sup2_the_articles_ranking_is_kept_per_query_and_forgotten_when_an_article_changes(
    world: World,
) -> None:
    customer, other_customer = world.customer(), world.customer()
    owner, stranger = world.owner(customer), world.owner(other_customer)
    configuration = f"Kb{uuid.uuid4().hex[:8]}"
    first, second = new_slug(), new_slug()
    await handled(
        world,
        await article(world, first, "Сверка взаиморасчётов", "Как сверить взаиморасчёты", configuration=configuration),
    )
    await found_after_change(world, owner, "взаиморасчёт", [first], configuration=configuration)

    # The same query again, by another subscriber too: the ranking kept is used, not read again.
    before = await rankings_counted(world)
    assert await found(world, owner, "взаиморасчёт", configuration=configuration) == [first]
    assert await found(world, stranger, "взаиморасчёт", configuration=configuration) == [first]
    after = await rankings_counted(world)
    assert (after["hit"] - before["hit"], after["miss"] - before["miss"]) == (2, 0)

    # Another article with the word: every ranking is forgotten; the next search reads it again and finds both.
    await handled(
        world, await article(world, second, "Акт сверки взаиморасчётов", "Печать акта", configuration=configuration)
    )
    await found_after_change(world, owner, "взаиморасчёт", [second, first], configuration=configuration)
    withdrawn = ArticleWithdrawn(slug=second, withdrawn_at=datetime.now(UTC) + timedelta(minutes=1))
    await handled(world, await world.publish(withdrawn, "updates"))
    await found_after_change(world, stranger, "взаиморасчёт", [first], configuration=configuration)


async def test_sup2_an_article_and_a_question_in_one_search(world: World) -> None:
    customer: Customer = world.customer()
    owner = world.owner(customer)
    configuration = f"Kb{uuid.uuid4().hex[:8]}"
    slug = new_slug()
    await handled(
        world, await article(world, slug, "Обмен с банком", "Настройка обмена с банком", configuration=configuration)
    )
    question = await feedback(world, owner, "Банк", "Не загружается выписка из банка", configuration=configuration)
    status, page = await search(world, owner, "банки", configuration=configuration)
    assert status == 200 and {(i["kind"], i["id"]) for i in page["items"]} == {
        ("article", slug),
        ("question", question),
    }
