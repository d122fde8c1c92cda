"""Release pages for subscribers' users: configuration releases (UPD-1), platform releases (UPD-2), known
problems and administration articles (UPD-6).

A configuration's pages are for users of subscribers registered for it (UPD-3, REG-6); anyone else gets a
403 with an offer. The platform's pages are for users of subscribers with at least one active registered
product. Only published releases are shown: a draft does not exist for subscribers (404); a withdrawn
release answers 410 Gone, so a bookmarked page says why it went instead of pretending it never was.
Markdown comes as the source and as safe HTML (`*_html`, markdown.py). Each kit names where to download
it and whether this user may (UPD-4), so a page can show the offer instead of a link that would fail.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from services.updates import articles_store, release_pages, store
from services.updates.access import SubscriberAccess
from services.updates.answers import answer
from services.updates.api_models import DownloadStatus
from services.updates.articles import articles_of
from services.updates.caller import caller_access
from services.updates.catalogue_models import CodePath, KitFields, ReleaseVersionPath, VersionPath
from services.updates.downloads import download_status
from services.updates.problems import refusals_answered
from services.updates.release_notes import configuration_notes_html, platform_notes_html
from shared.auth import Caller
from shared.http import Api
from shared.keys import POOL
from shared.markdown import render, render_inline
from shared.parsing import StrictModel

routes = Api("ITS Portal updates: release pages")

TAGS = ("release pages",)


# ---- answers ---------------------------------------------------------------------------------


class Entitlement(DownloadStatus):
    """UPD-4 for this user and these kits; when refused, why and what to do (the current month's offer)."""


class KitItem(KitFields):
    download: str  # GET with the subscriber's token: 303 to a short-lived signed link


class ArticleRef(BaseModel):
    slug: str
    title: str


class ConfigurationReleaseSummary(BaseModel):
    version: str
    release_date: date
    its_issue: str
    prerelease: bool
    min_platform: str | None
    updates_from: list[str]
    published_at: datetime | None
    whats_new: str
    whats_new_html: str
    page: str


class ConfigurationReleaseList(BaseModel):
    configuration: str
    configuration_name: str | None
    items: list[ConfigurationReleaseSummary]  # newest version first


class ConfigurationReleasePage(BaseModel):
    """Every section of UPD-1."""

    configuration: str
    configuration_name: str | None
    version: str
    release_date: date
    its_issue: str
    prerelease: bool
    published_at: datetime | None
    whats_new: str
    whats_new_html: str
    changes: str
    changes_html: str
    major_changes: list[str]
    major_changes_html: list[str]
    update_procedure: str
    update_procedure_html: str
    min_platform: str | None
    updates_from: list[str]
    kits: list[KitItem]
    entitlement: Entitlement
    known_problems: list[ArticleRef]  # UPD-6: the known problems that name this version


class PlatformReleaseSummary(BaseModel):
    version: str
    release_date: date
    its_issue: str
    grade: str | None
    prerelease: bool
    published_at: datetime | None
    page: str


class PlatformReleaseList(BaseModel):
    items: list[PlatformReleaseSummary]  # newest version first


class FixedBugItem(BaseModel):
    id: str
    title: str


class PlatformReleasePage(BaseModel):
    """Every section of UPD-2; `readme` is ReadMe.txt, plain text (shown as is, never as HTML)."""

    version: str
    release_date: date
    its_issue: str
    grade: str | None
    prerelease: bool
    published_at: datetime | None
    differences: str
    differences_html: str
    migration_notes: str
    migration_notes_html: str
    fixed_bugs: list[FixedBugItem]
    readme: str
    kits: list[KitItem]
    entitlement: Entitlement
    known_problems: list[ArticleRef]


class ArticleItem(BaseModel):
    slug: str
    configuration: str | None
    kind: str
    title: str
    title_html: str
    body: str
    body_html: str
    versions: list[str]
    published_at: datetime | None
    updated_at: datetime | None


class ArticleList(BaseModel):
    items: list[ArticleItem]  # known problems first, most recently updated first


class ReleasesQuery(StrictModel):
    published_after: AwareDatetime | None = Field(
        default=None, description="Only the releases published after this instant (ISO 8601 with its offset)"
    )


class ArticlesQuery(StrictModel):
    kind: Literal["known_problem", "administration"] | None = None


# ---- helpers ---------------------------------------------------------------------------------


def _kits(release: store.Release) -> list[KitItem]:
    return [answer(KitItem, k, download=f"/v1/kits/{k.id}/download") for k in release.kits]


async def _access(request: web.Request, caller: Caller, configuration: str) -> SubscriberAccess:
    """UPD-3 / REG-6: a configuration's pages are for subscribers that hold it (403 with an offer)."""
    access = await caller_access(request, caller)
    with refusals_answered():
        await access.require_visible(configuration)
    return access


async def _platform_access(request: web.Request, caller: Caller) -> SubscriberAccess:
    """UPD-2: the platform's pages are for subscribers that hold at least one configuration."""
    access = await caller_access(request, caller)
    with refusals_answered():
        access.require_platform()
    return access


async def _page(request: web.Request, configuration: str | None, version: str) -> release_pages.ReleasePage:
    with refusals_answered():  # a draft: 404; withdrawn: 410 with when and why
        return await release_pages.release_page(request.app[POOL], configuration, version)


def _article(a: articles_store.Article) -> ArticleItem:
    return answer(ArticleItem, a, title_html=render_inline(a.title), body_html=render(a.body))


def _refs(articles: list[articles_store.Article]) -> list[ArticleRef]:
    return [ArticleRef(slug=a.slug, title=a.title) for a in articles]


# ---- configuration releases (UPD-1, UPD-3) ---------------------------------------------------------


@routes.get(
    "/v1/configurations/{code}/releases",
    summary="UPD-1, UPD-3: the published releases of a configuration registered to my subscriber, newest first; "
    "with `published_after`, only those published later",
    auth=True,
    params=CodePath,
    query=ReleasesQuery,
    response=ConfigurationReleaseList,
    errors=(403,),
    tags=TAGS,
)
async def configuration_releases(
    request: web.Request, caller: Caller, params: CodePath, query: ReleasesQuery
) -> ConfigurationReleaseList:
    configuration = params.code
    await _access(request, caller, configuration)
    found = await release_pages.configuration_releases(
        request.app[POOL], configuration, published_after=query.published_after
    )
    return ConfigurationReleaseList(
        configuration=configuration,
        configuration_name=found.configuration_name,
        items=[
            answer(
                ConfigurationReleaseSummary,
                r,
                whats_new_html=render(r.whats_new),
                page=f"/v1/configurations/{configuration}/releases/{r.version}",
            )
            for r in found.releases
        ],
    )


@routes.get(
    "/v1/configurations/{code}/releases/{version}",
    summary="UPD-1: a configuration release's page, every section, with its kits and whether I may download them",
    auth=True,
    params=ReleaseVersionPath,
    response=ConfigurationReleasePage,
    errors=(403, 404, 410),
    tags=TAGS,
)
async def configuration_release(
    request: web.Request, caller: Caller, params: ReleaseVersionPath
) -> ConfigurationReleasePage:
    configuration, version = params.code, str(params.version)
    access = await _access(request, caller, configuration)
    page = await _page(request, configuration, version)
    release = page.release
    decision = access.download(configuration, release.published_at)  # UPD-4, ITS-7, SUB-5
    return answer(
        ConfigurationReleasePage,
        release,
        configuration_name=page.configuration_name,
        **configuration_notes_html(
            whats_new=release.whats_new,
            changes=release.changes,
            major_changes=release.major_changes,
            update_procedure=release.update_procedure,
        ),
        kits=_kits(release),
        entitlement=await download_status(access, configuration, decision, Entitlement),
        known_problems=_refs(page.known_problems),
    )


@routes.get(
    "/v1/configurations/{code}/articles",
    summary="UPD-6: known problems and administration articles of a configuration registered to my subscriber",
    auth=True,
    params=CodePath,
    query=ArticlesQuery,
    response=ArticleList,
    errors=(403,),
    tags=TAGS,
)
async def configuration_articles(
    request: web.Request, caller: Caller, params: CodePath, query: ArticlesQuery
) -> ArticleList:
    configuration = params.code
    await _access(request, caller, configuration)
    articles = await articles_of(request.app[POOL], configuration, query.kind)
    return ArticleList(items=[_article(a) for a in articles])


# ---- the platform (UPD-2) ----------------------------------------------------------------------


@routes.get(
    "/v1/platform/releases",
    summary="UPD-2: the published platform releases, newest first",
    auth=True,
    response=PlatformReleaseList,
    errors=(403,),
    tags=TAGS,
)
async def platform_releases(request: web.Request, caller: Caller) -> PlatformReleaseList:
    await _platform_access(request, caller)
    releases = await release_pages.platform_releases(request.app[POOL])
    return PlatformReleaseList(
        items=[answer(PlatformReleaseSummary, r, page=f"/v1/platform/releases/{r.version}") for r in releases]
    )


@routes.get(
    "/v1/platform/releases/{version}",
    summary="UPD-2: a platform release's page: differences, migration notes, fixed bugs, kits, ReadMe.txt",
    auth=True,
    params=VersionPath,
    response=PlatformReleasePage,
    errors=(403, 404, 410),
    tags=TAGS,
)
async def platform_release(request: web.Request, caller: Caller, params: VersionPath) -> PlatformReleasePage:
    version = str(params.version)
    access = await _platform_access(request, caller)
    page = await _page(request, None, version)
    release = page.release
    return answer(
        PlatformReleasePage,
        release,
        **platform_notes_html(differences=release.differences, migration_notes=release.migration_notes),
        kits=_kits(release),
        entitlement=await download_status(access, None, access.download_any(), Entitlement),
        known_problems=_refs(page.known_problems),
    )


@routes.get(
    "/v1/platform/articles",
    summary="UPD-6: known problems and administration articles about the platform",
    auth=True,
    query=ArticlesQuery,
    response=ArticleList,
    errors=(403, 422),
    tags=TAGS,
)
async def platform_articles(request: web.Request, caller: Caller, query: ArticlesQuery) -> ArticleList:
    await _platform_access(request, caller)
    articles = await articles_of(request.app[POOL], None, query.kind)
    return ArticleList(items=[_article(a) for a in articles])
