"""SUP-2's knowledge-base search, `GET /v1/knowledge/search`, over 1,000,000 questions with their answers and 10,000
articles: p95 at 20 concurrent searches, and the throughput beside the same SQL issued directly with asyncpg.

The corpus is generated once into a database of its own (`its_bench_knowledge_v<CORPUS>_<questions>`, support's
schema migrated) and reused while its marker says it is complete: Russian and English text whose words are, one in
eight, the domain's terms the searches look for (word lists, inflected: Russian endings, English -s/-ed/-ing) and
otherwise common language (the language's 20,000 most frequent words, wordfreq's list, drawn by Zipf's law as in
real text); each question a subject and a body with two answers, spread over 1,000 subscribers (owners and users, a
tenth shared), plus 10,000 articles; loaded with COPY in two streams, the indexes built after the load, the words
(pg_trgm vocabulary) from the lists. Generating takes several minutes; later runs start at once.

support runs as in production (`python -m services.support`, one process, logging at INFO into a file) against that
database, with the throwaway vhost of the run; the token is signed here (identity is not running). The searches, in
order, the same for each sender (`searches`): half repeat one of 500 popular queries (Zipf), half are two words not
searched before; words in other grammatical forms than the text's, in both languages, by the owners (all their
questions) and users (their own and the shared ones) of 100 subscribers. The load on support comes from wrk (one
thread, 20 connections; a Python client where wrk is missing). The reference is the same search
(`services.support.public.search_knowledge`: the same SQL and the same articles' rankings kept) issued with asyncpg
from a pool of 20 connections by 20 workers; beside it, the same with nothing kept. Rounds alternate, after a
warm-up; figures are medians. support's `support_article_rankings_total` gives the share of searches whose articles'
ranking was kept.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import wordfreq

from bench.common import (
    Result,
    have_wrk,
    lua_string,
    median,
    per_round,
    quiet_migrate,
    run_wrk,
    service_process,
    throwaway_stack,
)
from bench.contracts_post import jwks_server
from services.support.public import ArticleRankings, database, search_knowledge
from tests.infra import PG_ADMIN_URL
from tests.tokens import TestKeys

TARGET = 0.5
P95_LIMIT_MS = 50.0
QUESTIONS = 1_000_000
ARTICLES = 10_000
SUBSCRIBERS = 1_000
CONCURRENCY = 20
ROUND_SECONDS = 8
WARMUP_SECONDS = 3
LIMIT = 20
SEED = 2
CORPUS = 4  # the generator's version (and the migrations'): a corpus made by another is made again
SEARCH_INDEXES = ["knowledge_questions", "knowledge_articles"]
COMMON_WORDS = 20_000  # per language
# Of a text's words, the share that are the terms the searches look for (the domain's: contracts, invoices, ...);
# the rest is common language. One term of the 66 per language is then in about 1 question in 7.
DOMAIN_SHARE = 0.12
SEARCHERS = 200  # owners and users of 100 subscribers
POPULAR = 500  # queries searched again and again
REPEATED = 0.5  # of the searches, the share that repeat a popular query; the rest are new
STREAM = 60_000  # searches generated: more than a run sends
WRK_SEARCHES = 20_000  # a wrk round's script: more than a round sends (it would start again from its first)

RU_STEMS = (  # noqa: SIM905 (a word list, read as text)
    "договор|накладн|счёт-фактур|документ|проводк|остат|склад|товар|поставщик|покупател|налог|"
    "деклараци|отчёт|зарплат|сотрудник|отпуск|больничн|банк|выписк|платёж|касс|чек|организаци|"
    "подразделени|номенклатур|цен|скидк|заказ|договорённост|ошибк|обновлени|релиз|конфигураци|"
    "платформ|лицензи|пользовател|прав|роль|печат|форм|бухгалтери|учёт|амортизаци|основн|средств|"
    "материал|списани|инвентаризаци|закрыти|месяц|квартал|период|контрагент|реквизит|валют|курс|"
    "начислени|удержани|взнос|страховани|пенси|фонд|справк|архив|резерв|копи"
).split("|")
RU_ENDINGS = ("", "а", "у", "ом", "е", "ы", "ов", "ам", "ами", "ах", "и", "ей", "ия", "ию", "ий")
EN_WORDS = (  # noqa: SIM905 (a word list, read as text)
    "contract invoice document posting balance warehouse product supplier customer tax return report "
    "payroll employee vacation sick leave bank statement payment cash receipt company department "
    "item price discount order error update release configuration platform license user right role "
    "print form accounting depreciation asset material write inventory closing month quarter period "
    "counterparty currency rate accrual deduction contribution insurance pension fund certificate "
    "archive backup copy exchange import export"
).split()
CONFIGURATIONS = ("Accounting", "Payroll", "Trade", "Enterprise")


def _ru_word(rng: random.Random) -> str:
    return rng.choice(RU_STEMS) + rng.choice(RU_ENDINGS)


def _en_word(rng: random.Random) -> str:
    word = rng.choice(EN_WORDS)
    return word + rng.choice(("", "", "s", "ed", "ing"))


def _sentence(rng: random.Random, russian: bool, words: int) -> str:
    common, weights = common_language("ru" if russian else "en")
    parts = []
    for _ in range(words):
        if rng.random() < DOMAIN_SHARE:
            parts.append(_ru_word(rng) if russian else _en_word(rng))
        else:
            parts.append(rng.choices(common, cum_weights=weights)[0])
    return " ".join(parts).capitalize() + "."


def _text(rng: random.Random, russian: bool, sentences: int) -> str:
    return " ".join(_sentence(rng, russian, rng.randint(6, 14)) for _ in range(sentences))


@functools.cache
def common_language(language: str) -> tuple[list[str], list[float]]:
    """The COMMON_WORDS most frequent words of the language (wordfreq's list, letters only) and their cumulative
    weights by Zipf's law (a word's frequency falls as 1 / its rank), as words occur in real text."""
    words = [w for w in wordfreq.top_n_list(language, COMMON_WORDS * 2) if w.isalpha()][:COMMON_WORDS]
    return words, list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))


def vocabulary() -> list[str]:
    words = {stem + ending for stem in RU_STEMS for ending in RU_ENDINGS}
    words |= {word + suffix for word in EN_WORDS for suffix in ("", "s", "ed", "ing")}
    words |= set(common_language("ru")[0]) | set(common_language("en")[0])
    return sorted({w.lower() for w in words if 3 <= len(w) <= 40})


def subscriber(n: int) -> uuid.UUID:
    return uuid.UUID(int=(SEED << 64) + n)


def account(subscriber_n: int, user: int) -> uuid.UUID:
    return uuid.UUID(int=(SEED << 96) + subscriber_n * 100 + user)


def question_rows(start: int, stop: int, part: int, parts: int) -> list[tuple[Any, ...]]:
    """Questions `start` to `stop` of one loading stream (every `parts`-th from `part`): a subject, the question and
    two answers, in Russian (60 %) or English."""
    rng = random.Random(  # noqa: S311 (test data, not secrets)
        SEED * 1_000_003 + start * parts + part
    )
    now = datetime.now(UTC)
    rows = []
    for n in range(start + part, stop, parts):
        russian = rng.random() < 0.6
        owner_n = n % SUBSCRIBERS
        asker = account(owner_n, rng.randint(0, 9))  # user 0 is the owner
        body = "\n".join(_text(rng, russian, rng.randint(1, 3)) for _ in range(3))
        at = now - timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
        rows.append(
            (
                "question",
                str(uuid.UUID(int=(SEED << 100) + n)),
                subscriber(owner_n),
                asker,
                rng.random() < 0.1,
                rng.choice(CONFIGURATIONS),
                _sentence(rng, russian, rng.randint(3, 7)),
                body,
                at,
                at,
            )
        )
    return rows


def article_rows(count: int) -> list[tuple[Any, ...]]:
    rng = random.Random(  # noqa: S311 (test data, not secrets)
        SEED
    )
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        russian = rng.random() < 0.7
        at = now - timedelta(days=rng.randint(0, 2000))
        configuration = rng.choice((*CONFIGURATIONS, None))
        title = _sentence(rng, russian, rng.randint(3, 8))
        rows.append(
            ("article", f"article-{n}", None, None, False, configuration, title, _text(rng, russian, 8), at, at)
        )
    return rows


COLUMNS = ["kind", "key", "subscriber_id", "asker_account_id", "shared", "configuration", "title", "body", "at"]
COLUMNS.append("updated_at")


async def corpus_url(questions: int, articles: int) -> str:
    """The corpus's database, generated if it is not there complete; its URL."""
    name = f"its_bench_knowledge_v{CORPUS}_{questions}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _, schema = database()
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        done = None
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            conn = await asyncpg.connect(url)
            try:
                done = await conn.fetchval(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = $1 AND table_name = 'bench_corpus'",
                    schema,
                ) and await conn.fetchval(f"SELECT questions FROM {schema}.bench_corpus")  # noqa: S608 (our schema)
            finally:
                await conn.close()
        if done == questions:
            return url
        # None, or half made by an interrupted run: made again from the start, in a new database.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await _generate(url, questions, articles)
    return url


async def _generate(url: str, questions: int, articles: int) -> None:
    started = time.monotonic()
    print(f"  generating {questions:,} questions and {articles:,} articles (once) ...", flush=True)
    migrations, schema = database()
    await asyncio.to_thread(quiet_migrate, migrations, url, schema)
    settings = {"search_path": schema}
    conn = await asyncpg.connect(url, server_settings=settings)
    try:
        # The search indexes as support's migrations made them, dropped for the load and made again after it.
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = ANY($2::text[])",
            schema,
            SEARCH_INDEXES,
        )
        if len(indexes) != len(SEARCH_INDEXES):
            raise RuntimeError(f"support's migrations made {[i['indexname'] for i in indexes]}, not {SEARCH_INDEXES}")
        await conn.execute(f"DROP INDEX {', '.join(SEARCH_INDEXES)}")
    finally:
        await conn.close()
    parts, batch = 2, 20_000  # two loading streams: the machine's two cores

    async def load(part: int) -> None:
        stream = await asyncpg.connect(url, server_settings=settings)
        try:
            for start in range(0, questions, batch):
                stop = min(questions, start + batch)
                rows = await asyncio.to_thread(question_rows, start, stop, part, parts)
                await stream.copy_records_to_table("knowledge", columns=COLUMNS, records=rows)
                if part == 0 and stop % 100_000 == 0:
                    print(f"  ... {stop:,} ({time.monotonic() - started:.0f} s)", flush=True)
        finally:
            await stream.close()

    await asyncio.gather(*(load(part) for part in range(parts)))
    conn = await asyncpg.connect(url, server_settings=settings)
    try:
        await conn.copy_records_to_table("knowledge", columns=COLUMNS, records=article_rows(articles))
        await conn.copy_records_to_table("knowledge_words", columns=["word"], records=[(w,) for w in vocabulary()])
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE knowledge")
        await conn.execute("CREATE TABLE bench_corpus (questions integer NOT NULL)")
        await conn.execute("INSERT INTO bench_corpus VALUES ($1)", questions)
    finally:
        await conn.close()
    print(f"  generated in {time.monotonic() - started:.0f} s", flush=True)


# ---- the searches ------------------------------------------------------------------------------------


def searches(count: int) -> list[tuple[str, uuid.UUID, uuid.UUID | None]]:
    """(query, subscriber, account or None for the owner), in the order they are sent: words in other forms than the
    text's, in both languages, by the owners and users of 100 subscribers. Like a site's searches, some queries are
    popular and many are new: REPEATED of them are one of POPULAR queries (drawn by Zipf's law; one or two words),
    the others two words not searched before (very likely: there are about a million pairs per language)."""
    rng = random.Random(  # noqa: S311 (test data, not secrets)
        SEED + 1
    )

    def words(n: int) -> str:
        russian = rng.random() < 0.6
        return " ".join((_ru_word(rng) if russian else _en_word(rng)) for _ in range(n))

    popular = [words(1 + n % 2) for n in range(POPULAR)]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, POPULAR + 1)))
    searchers = []
    for n in range(SEARCHERS):
        subscriber_n = rng.randrange(SUBSCRIBERS)
        searchers.append((subscriber(subscriber_n), None if n % 2 else account(subscriber_n, rng.randint(1, 9))))
    found = []
    for _ in range(count):
        query = rng.choices(popular, cum_weights=weights)[0] if rng.random() < REPEATED else words(2)
        found.append((query, *rng.choice(searchers)))
    return found


Send = Callable[[int], Awaitable[None]]


async def measure(seconds: float, send: Send, sent: Iterator[int]) -> tuple[float, float]:
    """CONCURRENCY workers, each sending one search after another, the next of the stream `sent` counts along (it
    goes on from round to round: a round sends searches not sent before): (searches a second, p95 ms)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            await send(next(sent))
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.monotonic() - began
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.95)]


async def run(
    *, questions: int = QUESTIONS, articles: int = ARTICLES, rounds: int = 3, seconds: float = ROUND_SECONDS
) -> Result:
    url = await corpus_url(questions, articles)
    _, schema = database()
    keys = TestKeys()
    asks = searches(STREAM)
    names = ("support", "asyncpg", "asyncpg, nothing kept")
    rates: dict[str, list[float]] = {name: [] for name in names}
    p95s: dict[str, list[float]] = {name: [] for name in names}
    async with throwaway_stack("knowledge_search", migrate_identity=False) as stack, jwks_server(keys) as jwks_url:
        env = {"ITS_DATABASE_URL": url, "ITS_JWKS_URL": jwks_url, "ITS_DB_POOL_MAX": str(CONCURRENCY)}
        async with (
            service_process(stack, "support", **env) as support,
            asyncpg.create_pool(
                url, min_size=CONCURRENCY, max_size=CONCURRENCY, server_settings={"search_path": schema}
            ) as pool,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http,
        ):
            tokens = {
                (s, a): keys.token(
                    account_id=a or uuid.UUID(int=s.int + 1),
                    role="customer",
                    login="bench",
                    ttl=86_400,
                    subscriber={"id": str(s), "code": "CL-0000001", "role": "user" if a else "owner", "rights": []},
                )
                for _, s, a in set(asks)
            }

            async def via_http(n: int) -> None:
                q, s, a = asks[n]
                path = "/v1/knowledge/search?" + urlencode({"q": q, "limit": LIMIT})
                headers = {"Authorization": f"Bearer {tokens[(s, a)]}"}
                async with http.get(support.url + path, headers=headers) as response:
                    if response.status != 200:
                        raise RuntimeError(f"support answered {response.status}: {await response.text()}")
                    await response.read()

            def direct(articles: ArticleRankings) -> Send:
                async def send(n: int) -> None:
                    q, s, a = asks[n]
                    await search_knowledge(pool, articles, q, s, a, LIMIT)

                return send

            # The reference keeps the articles' rankings as the service does; "nothing kept" ranks them every time.
            kept, none_kept = ArticleRankings(), ArticleRankings(size=0)
            senders = dict(zip(names, (via_http, direct(kept), direct(none_kept)), strict=True))
            streams = {name: itertools.count() for name in names}  # each sender the same searches, in order
            authorizations = {searcher: f"Bearer {token}" for searcher, token in tokens.items()}

            async def measure_support(seconds: float) -> tuple[float, float]:
                """wrk (C: the load costs the two cores little) sends the stream's next searches."""
                if not have_wrk():
                    return await measure(seconds, via_http, streams["support"])
                start = next(streams["support"])
                script = stack.var_dir / f"searches-{start}.lua"
                script.write_text(wrk_script(asks[start : start + WRK_SEARCHES], authorizations))
                argv = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(script)]
                load, output = await run_wrk([*argv, support.url])
                if load.bad:
                    raise RuntimeError(f"support answered {load.bad} searches with an error: {output}")
                streams["support"] = itertools.count(start + load.requests)
                return load.requests_per_second, float(re.findall(r"^p95_us (\d+)$", output, re.MULTILINE)[0]) / 1000

            async def measure_one(name: str, seconds: float) -> tuple[float, float]:
                if name == "support":
                    return await measure_support(seconds)
                return await measure(seconds, senders[name], streams[name])

            for name in names:
                await measure_one(name, WARMUP_SECONDS)
            before = await article_rankings(http, support.url)
            for _ in range(rounds):
                for name in names:
                    rate, p95 = await measure_one(name, seconds)
                    rates[name].append(rate)
                    p95s[name].append(p95)
            after = await article_rankings(http, support.url)
            sizes = [
                await pool.fetchval("SELECT count(*) FROM knowledge WHERE kind = $1", k)
                for k in ("question", "article")
            ]
    hits, misses = (int(after[outcome] - before[outcome]) for outcome in ("hit", "miss"))
    ratios = [s / d for s, d in zip(rates["support"], rates["asyncpg"], strict=True)]
    p95 = median(p95s["support"])
    return Result(
        rounds=list(ratios),
        name="GET /v1/knowledge/search",
        figure=median(rates["support"]),
        reference=median(rates["asyncpg"]),
        unit="searches/s",
        figure_label="support over HTTP",
        reference_label="the same SQL with asyncpg",
        target=TARGET,
        details=[
            f"corpus: {sizes[0]:,} questions with their answers, {sizes[1]:,} articles; {CONCURRENCY} concurrent "
            f"searches, {rounds} rounds of {seconds:.0f} s alternating after {WARMUP_SECONDS} s warm-up each; the "
            f"load on support from {'wrk' if have_wrk() else 'a Python client (wrk missing)'}",
            f"searches: {REPEATED:.0%} repeat one of {POPULAR} popular queries, the rest are new; the articles' "
            f"ranking was kept for {hits / max(1, hits + misses):.0%} of support's searches ({hits:,} of "
            f"{hits + misses:,})",
            f"p95 through support: {p95:.1f} ms ({'PASS' if p95 < P95_LIMIT_MS else 'BELOW'}: < {P95_LIMIT_MS:.0f}"
            " ms); "
            f"with asyncpg: {median(p95s['asyncpg']):.1f} ms",
            f"with asyncpg and nothing kept (every search ranks the articles): {median(rates[names[2]]):.0f} "
            f"searches/s, p95 {median(p95s[names[2]]):.1f} ms",
            per_round(ratios),
        ],
    )


Search = tuple[str, uuid.UUID, uuid.UUID | None]  # query, subscriber, account (None: the owner)


def wrk_script(searches: list[Search], authorizations: dict[tuple[uuid.UUID, uuid.UUID | None], str]) -> str:
    """A wrk script that sends `searches` in order, each with its searcher's token, and prints the p95 (µs)."""
    searchers = list(authorizations)
    index = {searcher: n for n, searcher in enumerate(searchers, 1)}
    paths = ", ".join(lua_string("/v1/knowledge/search?" + urlencode({"q": q, "limit": LIMIT})) for q, _, _ in searches)
    tokens = ", ".join(lua_string(authorizations[searcher]) for searcher in searchers)
    who = ", ".join(str(index[(s, a)]) for _, s, a in searches)
    return f"""
local paths = {{{paths}}}
local tokens = {{{tokens}}}
local who = {{{who}}}
local n = 0
request = function()
  local i = (n % #paths) + 1
  n = n + 1
  return wrk.format("GET", paths[i], {{["Authorization"] = tokens[who[i]]}})
end
done = function(summary, latency, requests)
  io.write(string.format("p95_us %d\\n", latency:percentile(95)))
end
"""


async def article_rankings(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """support's count of searches whose articles' ranking was kept (hit) or read (miss), from its /metrics."""
    async with http.get(url + "/metrics") as response:
        text = await response.text()
    found = re.findall(r'^support_article_rankings_total\{outcome="(hit|miss)"\} ([0-9.e+]+)$', text, re.MULTILINE)
    counts = {"hit": 0.0, "miss": 0.0}
    counts.update({outcome: float(value) for outcome, value in found})
    return counts
