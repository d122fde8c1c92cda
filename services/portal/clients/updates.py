"""updates' API as the portal uses it: a subscriber's releases, articles, downloads and update plans (UPD-1..6),
and the operator cabinet's drafts with their kits, publishing and withdrawing."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp

from services.portal.clients.answers import Answer, Client, Listed, parsed
from services.portal.clients.catalogue import ProductRef
from services.portal.clients.transport import ServiceDown, ServiceError, segment

# A kit may take long on a slow link: no total limit, but a silent peer is given up after 10 minutes.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)


class Offer(Answer):
    """updates' Offer: how to get a configuration (REG-6) or the current month covered (UPD-4)."""

    mirrors = ("updates.Offer",)

    kind: str  # "register-product" | "its-subscription"
    how: str
    products: list[ProductRef] = []
    month: str | None = None
    registration_numbers: list[str] = []


class Entitlement(Answer):
    """updates' Entitlement and DownloadStatus (UPD-4): may this user download, and if not why and the offer."""

    mirrors = ("updates.Entitlement", "updates.DownloadStatus")

    allowed: bool
    reason: str | None = None
    detail: str | None = None
    offer: Offer | None = None


class HeldProduct(Answer):
    mirrors = ("updates.HeldProduct",)

    registration_number: str
    product_name: str


class ConfigurationEntitlement(Answer):
    mirrors = ("updates.ConfigurationEntitlement",)

    configuration: str
    visible: bool
    download: Entitlement
    support_end: str | None = None
    products: list[HeldProduct]


class Entitlements(Answer):
    """updates' Entitlements (UPD-3, UPD-4): the subscriber's configurations."""

    mirrors = ("updates.Entitlements",)

    items: list[ConfigurationEntitlement]


class Kit(Answer):
    """updates' KitItem, KitLink and KitOut: a kit as every page shows it (`uploaded`: the operator's)."""

    mirrors = ("updates.KitItem", "updates.KitLink", "updates.KitOut")

    id: str
    name: str
    kind: str
    os: str | None = None
    arch: str | None = None
    size: int
    sha256: str
    uploaded: bool = True

    def declared(self) -> dict[str, Any]:
        """The kit as a draft declares it again when the draft is written (UPD-1, UPD-2)."""
        return self.model_dump(include={"name", "kind", "size", "sha256", "os", "arch"}, exclude_none=True)


class ArticleRef(Answer):
    mirrors = ("updates.ArticleRef",)

    slug: str
    title: str


class FixedBug(Answer):
    mirrors = ("updates.FixedBug", "updates.FixedBugItem")

    id: str
    title: str


class ReleaseSummary(Answer):
    """updates' ConfigurationReleaseSummary and PlatformReleaseSummary: a row of a release list."""

    mirrors = ("updates.ConfigurationReleaseSummary", "updates.PlatformReleaseSummary")

    version: str
    release_date: str
    its_issue: str
    prerelease: bool
    grade: str | None = None
    updates_from: list[str] = []
    whats_new_html: str = ""
    published_at: str | None = None


class ReleaseList(Answer):
    """updates' ConfigurationReleaseList: a configuration's releases, all of them (not paged)."""

    mirrors = ("updates.ConfigurationReleaseList",)

    items: list[ReleaseSummary]
    configuration_name: str | None = None


class ReleasePage(Answer):
    """updates' ConfigurationReleasePage (UPD-1) and PlatformReleasePage (UPD-2): every section."""

    mirrors = ("updates.ConfigurationReleasePage", "updates.PlatformReleasePage")

    configuration_name: str | None = None
    version: str
    release_date: str
    its_issue: str
    prerelease: bool
    grade: str | None = None
    whats_new_html: str = ""
    changes_html: str = ""
    major_changes_html: list[str] = []
    update_procedure_html: str = ""
    min_platform: str | None = None
    updates_from: list[str] = []
    differences_html: str = ""
    migration_notes_html: str = ""
    fixed_bugs: list[FixedBug] = []
    readme: str = ""
    kits: list[Kit]
    entitlement: Entitlement
    known_problems: list[ArticleRef]


class Article(Answer):
    """updates' ArticleItem (UPD-6): a known problem or an administration article."""

    mirrors = ("updates.ArticleItem",)

    slug: str
    kind: str
    title_html: str
    body_html: str
    versions: list[str] = []


class FormVersion(Answer):
    """updates' FormVersionItem (DAT-2): one published version of a reporting form."""

    mirrors = ("updates.FormVersionItem",)

    id: str
    version: str
    name: str
    applies_from: str
    basis_number: str
    basis_date: str
    changes_html: str = ""
    published_at: str | None = None
    size: int


class FormHistory(Answer):
    mirrors = ("updates.FormHistory",)

    code: str
    name: str
    versions: list[FormVersion]


class ConfigurationForms(Answer):
    """updates' ConfigurationFormList (DAT-2): a configuration's reporting forms, each with its versions."""

    mirrors = ("updates.ConfigurationFormList",)

    configuration_name: str | None = None
    forms: list[FormHistory]


class Step(Answer):
    mirrors = ("updates.Step",)

    version: str
    from_version: str
    release_date: str
    min_platform: str | None = None
    prerelease: bool
    entitled: bool
    kits: list[Kit]


class PlatformAdvice(Answer):
    mirrors = ("updates.PlatformAdvice",)

    current: str
    required: str | None = None
    update_needed: bool
    recommended: str | None = None
    release: str | None = None
    kits: list[Kit]


class UpdatePlan(Answer):
    """updates' UpdatePlan (UPD-5): the steps from the user's version, and the platform's."""

    mirrors = ("updates.UpdatePlan",)

    current: str
    target: str
    up_to_date: bool
    steps: list[Step]
    platform: PlatformAdvice
    total_size: int
    support_end: str | None = None
    download: Entitlement


class NoUpdateChain(Answer):
    """The problem `no-update-chain` (UPD-5): why no chain leads there, and which versions it reaches."""

    mirrors = ()

    message: str = ""
    reason: str | None = None
    reachable: list[str] = []
    newest_reachable: str | None = None


class Release(Answer):
    """updates' ReleaseOut: a release as the operator cabinet lists it, with its kits."""

    mirrors = ("updates.ReleaseOut",)

    id: str
    kind: str
    configuration: str | None = None
    version: str
    state: str
    release_date: str
    its_issue: str
    prerelease: bool
    withdrawn_reason: str | None = None
    kits: list[Kit]
    missing_kits: list[str] = []


class NotesPreview(Answer):
    """updates' NotesPreview: a draft's Markdown sections as the release page will show them (safe HTML)."""

    mirrors = ("updates.NotesPreview",)

    whats_new_html: str
    changes_html: str
    major_changes_html: list[str]
    update_procedure_html: str
    differences_html: str
    migration_notes_html: str


def offer_of(exc: ServiceError) -> Offer | None:
    """The offer a refusal carries (REG-6, UPD-4), if any."""
    offer = exc.body.get("offer")
    return Offer.model_validate(offer) if isinstance(offer, dict) else None


def no_update_chain(exc: ServiceError) -> NoUpdateChain:
    return NoUpdateChain.model_validate({**exc.body, "message": exc.detail})


class FormFile(Answer):
    mirrors = ("updates.FormFileOut",)

    name: str
    size: int
    uploaded: bool


class FormVersionOut(Answer):
    """updates' FormOut (DAT-2): a version of a reporting form as the operator cabinet lists it."""

    mirrors = ("updates.FormOut",)

    id: str
    code: str
    version: str
    name: str
    applies_from: str
    configurations: list[str]
    basis_number: str
    basis_date: str
    state: str
    file: FormFile
    withdrawn_reason: str | None = None


class SignedLink(Answer):
    mirrors = ("updates.SignedLink",)

    url: str


class Updates(Client):
    # ---- the subscriber's pages (UPD-1..6) ----

    async def entitlements(self, token: str) -> Entitlements:
        return await self.get(Entitlements, "/v1/entitlements", token)

    async def releases_of(self, token: str, code: str, *, published_after: str | None = None) -> ReleaseList:
        """Its published releases, newest first; with `published_after` (an ISO instant), those published later."""
        query = "?" + urlencode({"published_after": published_after}) if published_after else ""
        return await self.get(ReleaseList, f"/v1/configurations/{segment(code)}/releases{query}", token)

    async def release_of(self, token: str, code: str, version: str) -> ReleasePage:
        return await self.get(ReleasePage, f"/v1/configurations/{segment(code)}/releases/{segment(version)}", token)

    async def articles_of(self, token: str, code: str) -> list[Article]:
        return (await self.get(Listed[Article], f"/v1/configurations/{segment(code)}/articles", token)).items

    async def forms_of(self, token: str, code: str) -> ConfigurationForms:
        """DAT-2: its published reporting forms, each with every published version, newest first."""
        return await self.get(ConfigurationForms, f"/v1/configurations/{segment(code)}/forms", token)

    async def platform_releases(self, token: str) -> list[ReleaseSummary]:
        return (await self.get(Listed[ReleaseSummary], "/v1/platform/releases", token)).items

    async def platform_release(self, token: str, version: str) -> ReleasePage:
        return await self.get(ReleasePage, f"/v1/platform/releases/{segment(version)}", token)

    async def platform_articles(self, token: str) -> list[Article]:
        return (await self.get(Listed[Article], "/v1/platform/articles", token)).items

    async def update_plan(self, token: str, body: Mapping[str, Any]) -> UpdatePlan:
        return await self.send(UpdatePlan, "POST", "/v1/update-plan", token, body)

    async def download_link(self, token: str, kit_id: str, *, form: bool = False) -> str:
        """A short-lived signed link to the kit (UPD-4), or with `form` to a reporting form version's file (DAT-2):
        `Prefer: no-redirect` asks for it as JSON, so that the browser, not the portal, follows it."""
        path = f"/v1/{'form-versions' if form else 'kits'}/{segment(kit_id)}/download"
        answer = await self.service.call("GET", path, token=token, headers={"Prefer": "no-redirect"})
        url = parsed(self.service.name, SignedLink, answer).url
        if not url:
            raise ServiceDown(self.service.name)
        return url

    # ---- the operator cabinet's releases ----

    async def releases(self, token: str, query: Mapping[str, str]) -> Listed[Release]:
        """A page of releases (`query`: kind, configuration, state, version, version_prefix, sort, limit, cursor)."""
        return await self.get(Listed[Release], "/v1/releases?" + urlencode(query), token)

    async def release(self, token: str, release_id: str) -> Release:
        """One release in whatever state (`release_id`: a canonical uuid, checked by the page)."""
        return await self.get(Release, f"/v1/releases/{release_id}", token)

    async def preview_notes(self, token: str, notes: Mapping[str, Any]) -> NotesPreview:
        """A draft's Markdown sections rendered by updates as the release page shows them; nothing is stored."""
        return await self.send(NotesPreview, "POST", "/v1/releases/preview", token, notes)

    async def put_draft(self, token: str, configuration: str | None, version: str, body: Mapping[str, Any]) -> Release:
        """A draft created or written again: a configuration's (UPD-1), or with None the platform's (UPD-2)."""
        path = (
            f"/v1/configurations/{segment(configuration)}/releases/{segment(version)}"
            if configuration is not None
            else f"/v1/platform/releases/{segment(version)}"
        )
        return await self.send(Release, "PUT", path, token, body)

    async def upload_kit(
        self, token: str, release_id: str, name: str, content: AsyncIterable[bytes], size: int
    ) -> None:
        """A declared kit's content as application/octet-stream, streamed with its length (not chunked: updates
        checks the length before reading)."""
        await self._stream(token, f"/v1/releases/{release_id}/kits/{segment(name)}/content", content, size)

    async def _stream(self, token: str, path: str, content: AsyncIterable[bytes], size: int) -> None:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        await self.service.call("PUT", path, token=token, content=content, headers=headers, timeout=UPLOAD_TIMEOUT)

    async def publish(self, token: str, release_id: str) -> None:
        await self.service.call("POST", f"/v1/releases/{release_id}/publish", token=token)

    async def withdraw(self, token: str, release_id: str, reason: str) -> None:
        await self.service.call(
            "POST", f"/v1/releases/{release_id}/withdraw", token=token, json_body={"reason": reason}
        )

    # ---- the operator cabinet's reporting forms (DAT-2) ----

    async def forms(self, token: str, query: Mapping[str, str]) -> Listed[FormVersionOut]:
        """A page of form versions in every state (`query`: code, configuration, state, limit, cursor)."""
        return await self.get(Listed[FormVersionOut], "/v1/forms?" + urlencode(query), token)

    async def put_form(self, token: str, code: str, version: str, body: Mapping[str, Any]) -> FormVersionOut:
        """A form version's draft created or written again; its file is uploaded afterwards."""
        path = f"/v1/forms/{segment(code)}/versions/{segment(version)}"
        return await self.send(FormVersionOut, "PUT", path, token, body)

    async def upload_form_file(self, token: str, form_id: str, content: AsyncIterable[bytes], size: int) -> None:
        """The draft's file, streamed with its length; updates checks it against the declared size and sha256."""
        await self._stream(token, f"/v1/form-versions/{segment(form_id)}/file", content, size)

    async def publish_form(self, token: str, form_id: str) -> None:
        await self.service.call("POST", f"/v1/form-versions/{segment(form_id)}/publish", token=token)

    async def withdraw_form(self, token: str, form_id: str, reason: str) -> None:
        path = f"/v1/form-versions/{segment(form_id)}/withdraw"
        await self.service.call("POST", path, token=token, json_body={"reason": reason})
