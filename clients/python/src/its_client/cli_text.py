"""The command's words for people: dates, months, sizes, and each answer and refusal with what to do next."""

from __future__ import annotations

from datetime import date, datetime

from rich.markup import escape

from its_client.data import ExchangeRates, FormUpdates
from its_client.errors import (
    AccessRefused,
    AttachmentFailed,
    ConnectionFailed,
    DownloadFailed,
    ItsError,
    KitCorrupt,
    NotAuthenticated,
    NotCovered,
    NoUpdateChain,
    Offer,
    ServiceUnavailable,
    UpdateNotTrusted,
)
from its_client.models import Kit, Question, RegisteredProduct, SupportStatus, UpdatePlan
from its_client.updating import FetchedKit, UpdateResult


def day(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else "—"


def month(value: str | None) -> str:
    """`2027-04` as "April 2027"."""
    if not value:
        return "—"
    try:
        return f"{date.fromisoformat(value + '-01'):%B %Y}"
    except ValueError:
        return value


def moment(value: datetime | None) -> str:
    """A moment in the user's own time zone."""
    if value is None:
        return "—"
    local = value.astimezone()
    return f"{local.day} {local:%B %Y, %H:%M} ({local:%Z})"


def size(count: int) -> str:
    """Bytes as people read them (decimal units, as download sizes are shown)."""
    amount = float(count)
    for unit in ("bytes", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{count:,} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def products(registered: list[RegisteredProduct]) -> list[str]:
    if not registered:
        return ["No product is registered to your subscriber yet: register one (number and PIN) in the portal."]
    lines = []
    for p in registered:
        pending = f", access from {moment(p.active_from)}" if p.state == "pending" else ""
        lines.append(
            f"{p.registration_number}  {escape(p.name)} ({p.edition}): {escape(', '.join(p.configurations))}{pending}"
        )
    return lines


# ---- MON-1 ------------------------------------------------------------------------------------------

VERDICT = {"OK": "supported", "WARNING": "supported, with a warning", "NOT_COMPLIED": "NOT supported"}


def support_status(status: SupportStatus, number: str, configuration: str) -> list[str]:
    lines = [
        f"Product {escape(number)}, configuration {escape(configuration)}: "
        f"[bold]{VERDICT.get(status.overall, status.overall)}[/] ({status.overall})"
    ]
    rows: list[tuple[str, str]] = [("Registration", status.registration)]
    if status.configuration:
        rows.append(("Configuration", status.configuration))
    if status.its_contract:
        by = {"contract": "an ITS contract", "free_period": "the free period"}.get(status.its_covered_by or "", "")
        until = f", covered by {by} until {day(status.its_until)}" if status.its_until else ""
        rows.append(("ITS contract", status.its_contract + until))
    if status.maintenance_service:
        until = f", until {day(status.maintenance_until)}" if status.maintenance_until else ""
        rows.append(("Maintenance service", status.maintenance_service + until))
    if status.partner:
        rows.append(("Partner to contact", f"{status.partner.name} <{status.partner.email}>"))
    for contract in status.contracts:
        partner = f" ({contract.partner})" if contract.partner else ""
        period = f"{month(contract.period.start)} to {month(contract.period.end)}"
        rows.append(("Contract", f"{contract.number}, {period}{partner}"))
    lines += [f"  {name:<20} {escape(value)}" for name, value in rows]
    lines += [f"What to do: {escape(step)}" for step in next_steps(status, configuration)]
    return lines


def next_steps(status: SupportStatus, configuration: str) -> list[str]:
    """What to do about each condition that does not hold (MON-1), naming the partner to contact."""
    partner = status.partner.name if status.partner else "your partner"
    if status.registration == "NOT_REGISTERED":
        return [
            "the number is not registered to your subscriber: register the product with its registration number and "
            "PIN, or ask the partner you bought it from to authorise it for your subscriber code"
        ]
    steps = []
    if status.configuration == "NOT_INCLUDED":
        steps.append(f"this product does not include {configuration}: buy and register a product that includes it")
    if status.its_contract == "NO_CONTRACT":
        steps.append(f"no ITS contract covers this month: ask {partner} for one that lists this registration number")
    elif status.its_contract == "WARNING":
        steps.append(f"the ITS support ends on {day(status.its_until)}: ask {partner} to extend the contract")
    if status.maintenance_service == "NO_ACTIVATIONS":
        steps.append(
            f"no maintenance service is activated for {configuration}: buy one from {partner} and activate it "
            "with its code"
        )
    elif status.maintenance_service == "WARNING":
        steps.append(f"the maintenance service ends on {day(status.maintenance_until)}: ask {partner} to renew it")
    return steps


# ---- UPD-5 ------------------------------------------------------------------------------------------


def plan(plan: UpdatePlan) -> list[str]:
    name = escape(plan.configuration)
    if plan.up_to_date:
        lines = [f"{name} {plan.current} is up to date (the newest is {plan.target})."]
    else:
        count = len(plan.steps)
        lines = [
            f"{name} {plan.current} → [bold]{plan.target}[/]: {count} step{'s' if count != 1 else ''}, "
            f"{size(plan.total_size)} to download"
        ]
    for number, step in enumerate(plan.steps, 1):
        needs = f", needs platform {step.min_platform}" if step.min_platform else ""
        pre = " (pre-release)" if step.prerelease else ""
        lines.append(f"  {number}. {step.from_version} → {step.version}{pre}, released {day(step.release_date)}{needs}")
        lines += [f"       {kit_line(kit)}" for kit in step.kits]
    platform = plan.platform
    if platform.update_needed and platform.release:
        lines.append(
            f"Platform: {platform.current} installed; the chain needs {platform.required}: "
            f"install platform {platform.release} first"
        )
        lines += [f"       {kit_line(kit)}" for kit in platform.kits]
    else:
        lines.append(f"Platform: {platform.current} installed, enough for this chain")
    if plan.support_end:
        lines.append(f"ITS support until {month(plan.support_end)}")
    if plan.download.allowed:
        lines.append(f"Download: allowed (the links are valid until {moment(plan.link_expires_at)})")
    else:
        lines.append(f"Download: [bold red]refused[/]: {escape(plan.download.detail or plan.download.reason or '')}")
        if plan.download.offer:
            lines += offer(plan.download.offer)
    return lines


def kit_line(kit: Kit) -> str:
    system = f" {kit.os}/{kit.arch}" if kit.os or kit.arch else ""
    return f"{escape(kit.name)}  ({kit.kind}{system}, {size(kit.size)})"


def update(result: UpdateResult, directory: str) -> list[str]:
    kits = result.kits
    if not kits:
        return [f"{escape(result.plan.configuration)} {result.plan.current} is up to date: nothing to download."]
    resumed = sum(1 for k in kits if k.resumed_from)
    lines = [
        f"{len(kits)} file{'s' if len(kits) != 1 else ''} verified in {escape(directory)} "
        f"({size(result.downloaded_bytes)} downloaded" + (f", {resumed} resumed" if resumed else "") + "):"
    ]
    lines += [f"  {fetched_line(k)}" for k in kits]
    lines.append(
        f"Install them in this order: {'the platform first, then ' if result.plan.platform.release else ''}"
        f"each step from {result.plan.current} to {result.plan.target}."
    )
    return lines


def fetched_line(kit: FetchedKit) -> str:
    how = "already there, " if kit.already_there else ""
    if kit.resumed_from:
        how += f"resumed from {kit.resumed_from[0]:,} bytes, "
    return (
        f"{escape(kit.target)}  {size(kit.size)}  sha256 {kit.sha256[:16]}…  "
        f"({how}checked against {', '.join(kit.verified_by)})"
    )


# ---- SUP-1 ------------------------------------------------------------------------------------------


def question(asked: Question) -> list[str]:
    who = f"{asked.routed_to.name} ({asked.routed_to.kind})"
    lines = [
        f"Question sent: {asked.id}",
        f"  Answered by          {escape(who)}",
        f"  First answer due by  {moment(asked.first_response_due)}",
    ]
    lines += [f"  Attached             {escape(a.name)} ({a.content_type}, {size(a.size)})" for a in asked.attachments]
    return lines


# ---- refusals -----------------------------------------------------------------------------------------


def offer(what: Offer) -> list[str]:
    lines = [f"What to do: {escape(what.how)}"] if what.how else []
    if what.month:
        numbers = f" for {', '.join(what.registration_numbers)}" if what.registration_numbers else ""
        lines.append(f"  Subscribe to ITS for {month(what.month)}{escape(numbers)}")
    lines += [f"  Product: {escape(p.name)} ({p.edition}, article {p.article})" for p in what.products]
    return lines


def error(exc: ItsError, url: str, *, logging_in: bool = False) -> list[str]:
    """The refusal, and what to do about it."""
    lines = [f"[bold red]error:[/] {escape(str(exc))}"]
    if isinstance(exc, NotAuthenticated) and logging_in:
        lines.append("Check the login and the password (the portal's, as on its sign-in page).")
    elif isinstance(exc, NotAuthenticated):
        lines.append(f"Log in first: its-client --url {url} login --username YOUR_LOGIN")
    elif isinstance(exc, NotCovered | AccessRefused) and exc.offer is not None:
        lines += offer(exc.offer)
    elif isinstance(exc, NoUpdateChain):
        reachable = ", ".join(exc.reachable) or "none"
        lines.append(f"Versions reachable from yours: {escape(reachable)}")
    elif isinstance(exc, ServiceUnavailable):
        lines.append(f"Try again in {exc.retry_after} seconds." if exc.retry_after else "Try again later.")
    elif isinstance(exc, ConnectionFailed):
        lines.append(f"Is the address right? (--url or ITS_CLIENT_URL; now {url})")
    elif isinstance(exc, AttachmentFailed):
        lines.append("Attach the file from the portal's page of the question, or ask again.")
    elif isinstance(exc, UpdateNotTrusted) and exc.refusal == "no-root":
        lines.append("Give the root of the system's signed update metadata, shipped with your program: --root FILE")
        lines.append("(or ITS_CLIENT_ROOT; the local stack's is var/tuf/metadata/1.root.json).")
    elif isinstance(exc, UpdateNotTrusted):
        lines.append("Nothing refused was installed. Do not install these kits from elsewhere: tell the vendor.")
    elif isinstance(exc, KitCorrupt):
        lines.append("The bytes received were not the kit published; they were deleted. If it happens again, the")
        lines.append("server or a mirror on the way sends altered kits: tell the vendor.")
    elif isinstance(exc, DownloadFailed):
        lines.append("Run the same command again: what was downloaded is kept and the download resumes.")
    return lines


def exchange_rates(rates: ExchangeRates) -> list[str]:
    """DAT-1: a line per day and currency, the rate of one unit beside the bank's quote where the nominal is not 1."""
    names = ", ".join(f"{code} ({escape(name)})" if name else code for code, name in rates.names.items())
    lines = [f"Exchange rates of the Bank of Russia, {day(rates.start)} to {day(rates.end)}: {names}"]
    if not rates.rows:
        return [*lines, "  No rates in this period."]
    for row in rates.rows:
        quote = f"{row.nominal} {row.currency} = {row.value} RUB"
        unit = f"  (1 {row.currency} = {row.per_unit:.4f} RUB)" if row.nominal != 1 else ""
        lines.append(f"  {row.day.isoformat()}  {quote}{unit}")
    return lines


def form_updates(found: FormUpdates) -> list[str]:
    """DAT-2: the forms to receive, each with what it is, from when it applies and the order it follows."""
    name = escape(found.configuration)
    if not found.forms:
        return [f"Every reporting form of {name} you hold is current: nothing to receive."]
    count = len(found.forms)
    lines = [f"{name}: {count} reporting form{'s' if count != 1 else ''} to receive:"]
    for form in found.forms:
        lines.append(
            f"  {escape(form.code)} {escape(form.version)}  {escape(form.name)}, applies from {day(form.applies_from)} "
            f"(order {escape(form.basis_number)} of {day(form.basis_date)}), {size(form.kit.size)}"
        )
    return lines


def received_forms(fetched: list[FetchedKit], configuration: str, directory: str) -> list[str]:
    if not fetched:
        return [f"Every reporting form of {escape(configuration)} you hold is current: nothing to download."]
    count = len(fetched)
    lines = [f"{count} reporting form file{'s' if count != 1 else ''} checked in {escape(directory)}:"]
    return lines + [f"  {fetched_line(k)}" for k in fetched]
