"""`ItsClient`: what an installed program asks of ITS Portal, through the system's public address.

    async with ItsClient("https://its.example.com") as client:
        account = await client.login("ivan", password)          # ACC-3: then show account.name
        status = await client.support_status("80012345678", "Accounting")             # MON-1
        plan = await client.plan("Accounting", "3.0.40.10", "8.3.24.1342")            # UPD-5
        result = await client.update("Accounting", "3.0.40.10", "8.3.24.1342", Path("updates"))
        question = await client.ask("VAT return", "It stops.", registration_number="80012345678",
                                    configuration="Accounting", version="3.0.40.10",
                                    platform_version="8.3.24.1342", attachments=[Path("error.png")])  # SUP-1
        rates = await client.rates(["USD", "EUR"], since=date(2026, 12, 1))                  # DAT-1
        forms = await client.receive_forms("Accounting", {"1151001": "5.01"}, Path("forms"))  # DAT-2

The login is kept between runs (`tokens.TokenStore`); every refusal raises an `errors.ItsError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from its_client.asking import AttachmentFile, question_body
from its_client.data import ExchangeRates, FormUpdates, rates_query
from its_client.download import TIMEOUT
from its_client.download import download as fetch
from its_client.errors import (
    AttachmentFailed,
    ConnectionFailed,
    DownloadFailed,
    ItsError,
    LinkExpired,
    ServiceUnavailable,
    UpdateNotTrusted,
)
from its_client.models import Account, Attachment, Kit, Question, RegisteredProduct, SupportStatus, UpdatePlan
from its_client.routes import Routes
from its_client.session import Session
from its_client.targets import target_path
from its_client.tokens import TokenStore
from its_client.trust import (
    KitRefused,
    MetadataRefused,
    MetadataUnavailable,
    NoTrustedRoot,
    TrustedMetadata,
    TrustError,
)
from its_client.updating import (
    FetchedKit,
    KitProgress,
    PlannedKit,
    UpdateResult,
    fresh_kit,
    plan_refusal,
    planned_kits,
    sha256_of,
)
from its_client.version import VERSION

DEFAULT_URL = "https://127.0.0.1:8443"  # the local stack's gateway (`make run`)


class ItsClient:
    """A connection to one system. `url` is its public address (the gateway); `routes` replaces the gateway's layout
    (e.g. `Routes.per_service(...)` for services without a gateway); `ca_file` trusts a CA (or a self-signed
    certificate, as the local stack's) besides the system's; `config_dir` is where the login is kept and the signed
    update metadata cached. `trusted_root`: the system's root of signed update metadata (TUF) shipped with the program,
    needed by `update` the first time; afterwards the root cached (and rotated) under `config_dir` is trusted."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        routes: Routes | None = None,
        ca_file: str | Path | None = None,
        config_dir: Path | None = None,
        store: TokenStore | None = None,
        trusted_root: bytes | None = None,
    ) -> None:
        self.routes = routes or Routes.gateway(url)
        self.store = store or TokenStore(config_dir)
        self.ca_file = Path(ca_file) if ca_file else None
        self.trusted_root = trusted_root
        self._http: aiohttp.ClientSession | None = None
        self._session: Session | None = None

    async def __aenter__(self) -> ItsClient:
        tls: ssl.SSLContext | bool = True
        if self.ca_file is not None:
            tls = ssl.create_default_context(cafile=str(self.ca_file))
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls),
            timeout=TIMEOUT,
            auto_decompress=False,  # kits are verified byte for byte; the APIs' JSON is not compressed for us
            headers={"User-Agent": f"its-client/{VERSION}"},
            trust_env=True,  # HTTPS_PROXY and NO_PROXY, as customers' networks need
        )
        self._session = Session(self._http, self.routes, self.store)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._session = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the client inside `async with ItsClient(...) as client:`")
        return self._session

    @property
    def logged_in(self) -> bool:
        """Whether a login is kept for this system (it may still have been revoked since)."""
        return self.store.load(self.routes.system) is not None

    # ---- ACC-3 ----------------------------------------------------------------------------------

    async def login(self, username: str, password: str, *, subscriber: str | None = None) -> Account:
        """Log in with the portal login and password (the password grant, no browser); the login is kept for the
        next runs. Returns the account, whose name the program shows from then on. `subscriber`: the code of
        another subscriber the account belongs to, to act for (SUB-7)."""
        await self.session.log_in(username, password, subscriber)
        return await self.me()

    async def me(self) -> Account:
        answer = await self.session.call("GET", self.routes.me)
        return Account.from_json(answer.json())

    async def refresh(self) -> None:
        """A new access token now; the stored refresh token is replaced by the new one (rotation)."""
        await self.session.refresh()

    async def logout(self) -> bool:
        """Revoke the kept login at the portal, then forget it; False when there was none."""
        return await self.session.log_out()

    async def products(self) -> list[RegisteredProduct]:
        """The subscriber's registered products: the registration numbers and configurations to ask about."""
        answer = await self.session.call("GET", self.routes.registrations)
        return [RegisteredProduct.from_json(item) for item in answer.json().get("items") or []]

    # ---- MON-1 ----------------------------------------------------------------------------------

    async def support_status(self, registration_number: str, configuration: str) -> SupportStatus:
        """Is this product supported? One status per condition, the dates and the partner to contact."""
        query = {"registration_number": registration_number, "configuration": configuration}
        answer = await self.session.call("GET", self.routes.support_status, params=query)
        return SupportStatus.from_json(answer.json())

    # ---- UPD-5 ----------------------------------------------------------------------------------

    async def plan(
        self,
        configuration: str,
        version: str,
        platform_version: str,
        os: str | None = None,  # the plan's own word: linux, windows, macos
        arch: str | None = None,
        target: str | None = None,
        *,
        allow_prerelease: bool = False,
    ) -> UpdatePlan:
        """What to install to go from `version` to the newest (or `target`): the shortest chain of releases, the
        platform it needs (its kits for `os` and `arch`), signed links valid minutes."""
        body: dict[str, Any] = {
            "configuration": configuration,
            "version": version,
            "platform_version": platform_version,
            "allow_prerelease": allow_prerelease,
        }
        body.update({k: v for k, v in (("os", os), ("arch", arch), ("target", target)) if v is not None})
        answer = await self.session.call("POST", self.routes.update_plan, json=body)
        return UpdatePlan.from_json(answer.json())

    async def download(self, kit: Kit, to_dir: Path, progress: KitProgress | None = None) -> FetchedKit:
        """The kit into `to_dir`/<its name>, through <name>.part: resumed where an earlier run stopped (`Range`,
        `If-Range`), its sha256 checked against the plan's before it is renamed into place. A file already there
        with the right sha256 is kept as it is."""
        if kit.url is None:
            raise DownloadFailed(f"no link to {kit.name}: this user may not download it (see the plan's `download`)")
        try:
            target_path(None, "0", kit.name)  # a plain file name: never a path out of `to_dir`
        except ValueError:
            raise DownloadFailed(f"refused: the kit's name {kit.name!r} is not a plain file name") from None
        await asyncio.to_thread(to_dir.mkdir, parents=True, exist_ok=True)
        out = to_dir / kit.name
        if out.is_file() and out.stat().st_size == kit.size and await asyncio.to_thread(sha256_of, out) == kit.sha256:
            return FetchedKit(kit, out, kit.size, kit.sha256, ["plan"], already_there=True)

        def progressed(done: int, total: int | None) -> None:
            if progress is not None:
                progress(kit, done, total)

        assert self._http is not None
        done = await fetch(self._http, kit.url, out, progress=progressed, expected_sha256=kit.sha256)
        return FetchedKit(kit, done.path, done.size, done.sha256, done.verified_by, done.resumed_from)

    async def update(
        self,
        configuration: str,
        version: str,
        platform_version: str,
        to_dir: Path,
        *,
        os: str | None = None,
        arch: str | None = None,
        target: str | None = None,
        allow_prerelease: bool = False,
        include_full: bool = False,
        progress: KitProgress | None = None,
    ) -> UpdateResult:
        """The plan, and every kit it says to install — the platform release's (for `os`, `arch`), then each step's
        update package (`include_full`: the full kits too) — downloaded verified into `to_dir` at their target paths
        (`configurations/<configuration>/<version>/<kit>`, `platform/<version>/<kit>`).

        Raises NotCovered or AccessRefused (with the offer) before downloading anything when the plan says this user
        may not download them (UPD-4)."""

        async def new_plan() -> UpdatePlan:
            return await self.plan(
                configuration, version, platform_version, os, arch, target, allow_prerelease=allow_prerelease
            )

        plan = await new_plan()
        wanted = planned_kits(plan, include_full=include_full)
        if (refused := plan_refusal(plan, wanted)) is not None:
            raise refused
        trusted = await self._trusted_metadata()
        fetched: list[FetchedKit] = []
        for item in wanted:
            # The plan's size and sha256 come from the same service as the links; the signed metadata must vouch for
            # them before a byte is fetched, and the download then refuses any other bytes (its sha256 check).
            await self._check_signed(trusted, item)
            directory = to_dir / Path(item.target).parent
            try:
                got = await self.download(item.kit, directory, progress)
            except LinkExpired:
                # Links last minutes: a long update outlives them. A new plan gives new ones; the .part resumes.
                plan = await new_plan()
                kit = fresh_kit(plan, item.kit.id)
                if kit is None:
                    raise
                got = await self.download(kit, directory, progress)
            await self._verify_signed(trusted, item, got.path)
            fetched.append(replace(got, target=item.target, verified_by=[*got.verified_by, "signed metadata"]))
        return UpdateResult(plan, fetched)

    def metadata_cache(self) -> Path:
        """Where this system's signed update metadata is kept between runs: beside its login, one directory per
        system (ngclient keeps the newest trusted root there, so a rotated root is followed from then on)."""
        return self.store.directory / "metadata" / self.store.path(self.routes.system).stem.removeprefix("login-")

    async def _trusted_metadata(self) -> TrustedMetadata:
        """The newest signed update metadata, checked by TUF's client workflow (python-tuf's ngclient: root's chain,
        signature thresholds, expiry, no rollback, timestamp/snapshot/targets agreeing). ngclient is synchronous:
        it runs in a thread."""

        def refreshed() -> TrustedMetadata:
            trusted = TrustedMetadata(
                self.routes.metadata,
                self.metadata_cache(),
                self.trusted_root,
                ca_file=self.ca_file,
                user_agent=f"its-client/{VERSION}",
            )
            trusted.refresh()
            return trusted

        with _not_trusted():
            return await asyncio.to_thread(refreshed)

    async def _check_signed(self, trusted: TrustedMetadata, item: PlannedKit) -> None:
        """The kit the plan names is the one the signed metadata lists at its target path: same length and sha256."""
        with _not_trusted():
            expected = await asyncio.to_thread(trusted.target, item.target)
        signed_sha256 = expected.hashes.get("sha256")
        if expected.length != item.kit.size or signed_sha256 != item.kit.sha256:
            raise UpdateNotTrusted(
                "hash" if expected.length == item.kit.size else "length",
                f"the update plan's {item.target} ({item.kit.size} bytes, sha256 {item.kit.sha256}) is not the kit "
                f"the signed metadata lists ({expected.length} bytes, sha256 {signed_sha256})",
            )

    async def _verify_signed(self, trusted: TrustedMetadata, item: PlannedKit, path: Path) -> None:
        """The file on disk is exactly the kit the signed metadata lists (its length and every hash it gives)."""
        with _not_trusted():
            await asyncio.to_thread(trusted.verify, item.target, path)

    # ---- DAT-1 ----------------------------------------------------------------------------------

    async def rates(
        self,
        currencies: Sequence[str],
        *,
        since: date | None = None,
        start: date | None = None,
        end: date | None = None,
        etag: str | None = None,
    ) -> ExchangeRates | None:
        """The exchange rates of every day after `since` (the last day the program has), or from `start`, to `end`
        (default: today), for the subscriber's programs while ITS covers it (DAT-1). With the `etag` of an earlier
        answer, None when nothing changed since."""
        query = rates_query(list(currencies), since, start, end)
        headers = {"If-None-Match": etag} if etag else None
        answer = await self.session.call("GET", self.routes.rates, params=query, headers=headers)
        if answer.status == 304:
            return None
        return ExchangeRates.from_json(answer.json(), answer.headers.get("ETag"))

    # ---- DAT-2 ----------------------------------------------------------------------------------

    async def form_updates(self, configuration: str, held: Mapping[str, str]) -> FormUpdates:
        """The regulated reporting forms of `configuration` the program should receive: each form it holds in an
        older version (`held`: the version held, by form code) or not at all, in its newest published version, with
        a signed link to its file (downloaded under the same entitlement as kits)."""
        body = {"configuration": configuration, "forms": dict(held)}
        answer = await self.session.call("POST", self.routes.form_updates, json=body)
        return FormUpdates.from_json(answer.json())

    async def receive_forms(
        self, configuration: str, held: Mapping[str, str], to_dir: Path, progress: KitProgress | None = None
    ) -> list[FetchedKit]:
        """Every form `form_updates` names, its file into `to_dir`/<code>/<version>/<name>, resumable and checked
        against its sha256 before it is put in place, as a kit is."""
        found = await self.form_updates(configuration, held)
        fetched = []
        for form in found.forms:
            try:
                target_path(form.code, form.version, form.kit.name)  # plain names: never a path out of `to_dir`
            except ValueError:
                refused = f"refused: {form.code} {form.version} is not a plain form code and version"
                raise DownloadFailed(refused) from None
            got = await self.download(form.kit, to_dir / form.code / form.version, progress)
            fetched.append(replace(got, target=f"{form.code}/{form.version}/{form.kit.name}"))
        return fetched

    # ---- SUP-1 ----------------------------------------------------------------------------------

    async def ask(
        self,
        subject: str,
        body: str,
        *,
        registration_number: str | None = None,
        configuration: str | None = None,
        version: str | None = None,
        platform_version: str | None = None,
        attachments: Sequence[Path] = (),
        kind: str = "consulting",
        partner_id: str | None = None,
    ) -> Question:
        """Ask the consulting line (or, `kind="feedback"`, tell the vendor) from inside the program, with its context,
        and attach files (streamed). The answer says who answers and by when. Every file is checked readable before
        the question is sent; a file refused after it was sent raises AttachmentFailed naming the question."""
        files: list[AttachmentFile] = []
        for path in attachments:
            files.append(AttachmentFile.of(Path(path), frozenset(f.name for f in files)))
        fields = question_body(
            kind=kind,
            subject=subject,
            body=body,
            registration_number=registration_number,
            configuration=configuration,
            version=version,
            platform_version=platform_version,
            partner_id=partner_id,
        )
        question = Question.from_json((await self.session.call("POST", self.routes.questions, json=fields)).json())
        attached: list[Attachment] = []
        for file in files:
            headers = {"Content-Type": file.content_type, "Content-Length": str(file.size)}
            try:
                answer = await self.session.call(
                    "PUT", self.routes.attachment(question.id, file.name), data=file.chunks, headers=headers
                )
            except ItsError as exc:
                raise AttachmentFailed(question.id, str(file.path), exc) from exc
            attached.append(Attachment.from_json(answer.json()))
        return replace(question, attachments=attached)


@contextlib.contextmanager
def _not_trusted() -> Iterator[None]:
    """its_client.trust's refusals as the client's errors: UpdateNotTrusted, or the metadata unreachable."""
    try:
        yield
    except MetadataUnavailable as exc:
        if exc.status is not None and exc.status >= 500:
            raise ServiceUnavailable(str(exc), status=exc.status) from exc
        if exc.status is not None:
            raise UpdateNotTrusted("unavailable", str(exc)) from exc
        raise ConnectionFailed(str(exc)) from exc
    except NoTrustedRoot as exc:
        raise UpdateNotTrusted("no-root", str(exc)) from exc
    except (MetadataRefused, KitRefused) as exc:
        raise UpdateNotTrusted(exc.reason, str(exc)) from exc
    except TrustError as exc:
        raise UpdateNotTrusted("invalid", str(exc)) from exc
