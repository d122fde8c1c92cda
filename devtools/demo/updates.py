"""The demo release catalogue for the local stack (`make run`); idempotent, refused in production.

python -m devtools.demo.updates

Generates the kits of demo_catalogue.yaml (deterministic bytes, a few KiB to 1 MiB each) under
var/demo-kits/, logs in at identity as the demo operator (devtools.demo.identity), installs the signed update
metadata's roots of var/tuf/ (`itsctl tuf install-root`: the first signs what was published before it) and publishes
the catalogue through the very code of `itsctl releases publish` (itsctl.release_publishing): releases already
published are skipped. Then two regulated reporting forms (DAT-2) through the code of `itsctl forms publish`
(itsctl.form_publishing), their files generated like the kits, and the demo exchange rates (DAT-1, devtools.demo.rates:
several currencies on every business day since 1991) through the code of `itsctl rates import`: imported again,
nothing changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from devtools.demo.identity import DEMO_ACCOUNTS
from devtools.demo.rates import generated_rates_csv
from itsctl._http import CALL_ERRORS, Api, Credentials, ServiceError, error_message, operator_session
from itsctl.form_publishing import FormOutcome, FormToPublish, publish_form
from itsctl.rates import import_body, report_line
from itsctl.release_manifest import ConfigurationRelease, Manifest, ManifestError, parse_manifest
from itsctl.release_publishing import Summary, publish_manifest
from itsctl.tuf import install_roots
from itsctl.tuf_root import KeyDirectory
from services.updates.public import database
from shared.clock import local_date
from shared.settings import BaseServiceSettings

CATALOGUE = Path(__file__).parent / "data" / "updates" / "demo_catalogue.yaml"
MAX_DEMO_KIT = 4 * 1024 * 1024  # the demo's kits stay small
# The demo operator of devtools.demo.identity: operator / operator-password-2026.
OPERATOR = next(Credentials(login=a[0], password=a[1]) for a in DEMO_ACCOUNTS if a[4])


# DAT-2: the demo's reporting forms; `file` is a name under var/demo-kits/, generated like a kit.
DEMO_FORMS = (
    FormToPublish(
        code="1151001",
        version="5.01",
        file=Path("VAT_return_1151001_5.01.zip"),
        name="VAT return",
        applies_from=date(2027, 1, 1),
        configurations=("Accounting", "Trade"),
        basis_number="ED-7-3/1093@",
        basis_date=date(2026, 10, 5),
        changes="* New section 3.1 for tax agents\n* The codes of operations for 2027",
    ),
    FormToPublish(
        code="1151100",
        version="2.03",
        file=Path("6-NDFL_1151100_2.03.zip"),
        name="6-NDFL: personal income tax withheld",
        applies_from=date(2027, 1, 1),
        configurations=("Accounting", "Payroll"),
        basis_number="ED-7-11/649@",
        basis_date=date(2026, 9, 19),
        changes="The new rates of the progressive scale.",
    ),
)
DEMO_FORM_SIZE = 48 * 1024


def kit_content(name: str, size: int) -> bytes:
    """The same bytes for the same kit on every machine and every run (so its sha256 never changes)."""
    return hashlib.shake_256(f"ITS Portal demo kit {name}".encode()).digest(size)


def generate_kits(data: dict[str, Any], kits_dir: Path) -> dict[str, Any]:
    """The catalogue with each kit's `size` replaced by a generated `file` (written unless it is there)."""
    kits_dir.mkdir(parents=True, exist_ok=True)
    releases = []
    for release in data.get("releases") or []:
        kits = []
        for kit in release["kits"]:
            name, size = kit["name"], int(kit["size"])
            if not 0 <= size <= MAX_DEMO_KIT:
                raise ManifestError(f"demo kit {name}: size {size} is not within 0..{MAX_DEMO_KIT}")
            path = kits_dir / name
            if not path.is_file() or path.stat().st_size != size:
                path.write_bytes(kit_content(name, size))
            kits.append({**{k: v for k, v in kit.items() if k != "size"}, "file": name})
        releases.append({**release, "kits": kits})
    return {**data, "releases": releases}


def demo_manifest(settings: BaseServiceSettings, path: Path = CATALOGUE) -> Manifest:
    with path.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    kits_dir = settings.var_dir / "demo-kits"
    return parse_manifest(generate_kits(data, kits_dir), kits_dir, str(path))


CATALOGUE_WAIT_SECONDS = 60.0


async def wait_for_configurations(settings: BaseServiceSettings, codes: set[str]) -> None:
    """Releases are refused for configurations updates has not heard of (422): wait, bounded, until registration's
    demo catalogue has reached updates' read model through the broker."""
    deadline = time.monotonic() + CATALOGUE_WAIT_SECONDS
    _, schema = database()
    conn = await asyncpg.connect(settings.database_url)
    try:
        while True:
            rows = await conn.fetch(f"SELECT code FROM {schema}.configurations")  # noqa: S608 - a constant
            known = {row["code"] for row in rows}
            if codes <= known:
                return
            if time.monotonic() > deadline:
                raise ManifestError(f"updates has not heard of the configurations {sorted(codes - known)}")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


def demo_forms(settings: BaseServiceSettings) -> list[FormToPublish]:
    """The demo's reporting forms with their files written under var/demo-kits/ (unless they are there)."""
    kits_dir = settings.var_dir / "demo-kits"
    kits_dir.mkdir(parents=True, exist_ok=True)
    forms = []
    for form in DEMO_FORMS:
        path = kits_dir / form.file.name
        if not path.is_file() or path.stat().st_size != DEMO_FORM_SIZE:
            path.write_bytes(kit_content(form.file.name, DEMO_FORM_SIZE))
        forms.append(replace(form, file=path))
    return forms


async def load_demo_catalogue(
    manifest: Manifest, settings: BaseServiceSettings, forms: list[FormToPublish] | None = None
) -> tuple[Summary, list[FormOutcome]]:
    codes = {r.configuration for r in manifest.releases if isinstance(r, ConfigurationRelease)}
    codes |= {a.configuration for a in manifest.articles if a.configuration is not None}
    codes |= {c for form in forms or [] for c in form.configurations}
    await wait_for_configurations(settings, codes)
    async with operator_session(OPERATOR) as operator:
        await install_local_roots(operator.api("updates"), settings)
        summary = await publish_manifest(operator.api("updates"), manifest)
        published = [await publish_form(operator.api("updates"), form) for form in forms or []]
        print(report_line(Path("demo exchange rates"), await load_demo_rates(operator.api("updates"), settings)))
        return summary, published


async def load_demo_rates(api: Api, settings: BaseServiceSettings) -> dict[str, Any]:
    """DAT-1: the generated rates of devtools.demo.rates up to the vendor's today, through the code of `itsctl rates
    import` (imported again: nothing changes); the service's report."""
    rates = generated_rates_csv(last=local_date(datetime.now(UTC), settings.vendor_zone))
    return await import_body(api, rates, "csv", "demo-rates.csv")


async def install_local_roots(api: Api, settings: BaseServiceSettings) -> None:
    """var/tuf/'s roots into updates (the stack's `ensure_tuf_keys` made them): a root installed already is left as it
    is; one the database knows otherwise (var/tuf/ made anew, the database kept) is said, and the demo goes on."""
    roots = KeyDirectory(settings.var_dir / "tuf").roots()
    try:
        installed = await install_roots(api, roots)
    except ServiceError as exc:
        print(f"signed update metadata: {exc} (remove var/tuf/ and the database together to start again)")
        return
    if any(answer["changed"] for _, answer in installed):
        print(f"signed update metadata: {len(installed)} root version(s) installed ({settings.var_dir / 'tuf'})")


def main() -> None:
    # Only the environment and var/ are needed: production's required secrets need not be set to be refused.
    settings = BaseServiceSettings()
    if settings.is_production:
        sys.exit("demo data is not loaded in production")
    try:
        manifest = demo_manifest(settings)
        summary, forms = asyncio.run(load_demo_catalogue(manifest, settings, demo_forms(settings)))
    except ManifestError as exc:
        sys.exit(f"demo catalogue not loaded: {exc}")
    except CALL_ERRORS as exc:
        sys.exit(f"demo catalogue not loaded: {error_message(exc)}")
    print(f"demo release catalogue ({CATALOGUE.name}): {summary.line()}")
    print(f"demo reporting forms: {'; '.join(outcome.line() for outcome in forms)}")


if __name__ == "__main__":
    main()
