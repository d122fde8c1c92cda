"""`itsctl mail`: the messages caught by the local SMTP sink (`<var_dir>/mail/*.eml`)."""

from __future__ import annotations

import email.parser
import email.policy
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from itsctl._common import console, fail, load_settings

app = typer.Typer(
    help="Read the e-mail caught by the local SMTP sink (var/mail/).",
    no_args_is_help=True,
)

_LINK = re.compile(r"""https?://[^\s<>"'`]+""")
_TAG = re.compile(r"<[^>]+>")
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True)
class StoredMail:
    index: int  # 1-based, oldest first, as `mail list` shows it
    path: Path
    message: EmailMessage

    @property
    def received(self) -> datetime:
        try:  # the sink names files <UTC time>-<random>.eml
            stamp = self.path.name.split("-", 1)[0]
            return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        except ValueError:
            return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)

    def header(self, name: str) -> str:
        value = self.message.get(name)
        return "" if value is None else str(value)

    @property
    def recipients(self) -> str:
        return self.header("To") or self.header("X-Sink-Rcpt-To")


def mail_dir() -> Path:
    return load_settings().var_dir / "mail"


def load(path: Path) -> EmailMessage:
    with open(path, "rb") as f:
        msg = email.parser.BytesParser(policy=email.policy.default).parse(f)
    assert isinstance(msg, EmailMessage)
    return msg


def all_mail(directory: Path) -> list[StoredMail]:
    paths = sorted(directory.glob("*.eml"))
    return [StoredMail(i, p, load(p)) for i, p in enumerate(paths, start=1)]


def text_body(msg: EmailMessage) -> str:
    """The text/plain part; failing that, the HTML part with its tags stripped."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode(errors="replace")
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAG.sub("", text))
    return text


def links(msg: EmailMessage) -> list[str]:
    found: list[str] = []
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        content = part.get_content()
        text = content if isinstance(content, str) else content.decode(errors="replace")
        for match in _LINK.finditer(html.unescape(text)):
            link = match.group(0).rstrip(_TRAILING)
            if link not in found:
                found.append(link)
    return found


@app.command("list")
def list_(
    to: Annotated[str | None, typer.Option("--to", help="Only mail to this address (substring).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Show the newest N (0: all).")] = 20,
) -> None:
    """List the caught messages, newest last."""
    directory = mail_dir()
    mails = all_mail(directory)
    if to:
        needle = to.lower()
        mails = [m for m in mails if needle in f"{m.recipients},{m.header('Cc')},{m.header('X-Sink-Rcpt-To')}".lower()]
    if limit:
        mails = mails[-limit:]
    if not mails:
        console.print(f"no mail in {directory}" + (f" to {to}" if to else ""))
        return
    table = Table(title=str(directory), title_justify="left", title_style="dim")
    table.add_column("#", justify="right")
    table.add_column("received (UTC)", no_wrap=True)
    table.add_column("from")
    table.add_column("to")
    table.add_column("subject")
    for m in mails:
        table.add_row(
            str(m.index),
            m.received.strftime("%Y-%m-%d %H:%M:%S"),
            Text(m.header("From")),
            Text(m.recipients),
            Text(m.header("Subject")),
        )
    console.print(table)
    console.print("[dim]itsctl mail show <#|last|file> prints one[/]")


def _find(which: str, directory: Path) -> StoredMail:
    mails = all_mail(directory)
    if which == "last" or which.lstrip("-").isdigit():
        if not mails:
            fail(f"no mail in {directory}")
        number = -1 if which == "last" else int(which)
        if number == 0 or abs(number) > len(mails):
            fail(f"no message #{which}: there are {len(mails)} in {directory}")
        return mails[number - 1] if number > 0 else mails[number]
    for candidate in (Path(which), directory / which):
        if candidate.is_file():
            return StoredMail(0, candidate, load(candidate))
    fail(f"no such message: {which} (give a # from `itsctl mail list`, `last`, or a file)")


@app.command(context_settings={"ignore_unknown_options": True})
def show(
    which: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_INDEX",
            help="# from `itsctl mail list` (-1 or `last`: newest), or an .eml file.",
        ),
    ],
    raw: Annotated[bool, typer.Option("--raw", help="Print the file as stored.")] = False,
) -> None:
    """Print one message: headers, text body and the links in it."""
    mail = _find(which, mail_dir())
    if raw:
        console.out(mail.path.read_bytes().decode(errors="replace"), highlight=False)
        return
    console.print(f"[dim]{mail.path}[/]")
    for name in ("Date", "From", "To", "Cc", "Reply-To", "Subject", "Message-ID"):
        if value := mail.header(name):
            console.print(Text.assemble((f"{name}: ", "bold"), value), soft_wrap=True)
    envelope = mail.header("X-Sink-Rcpt-To")
    if envelope and envelope != mail.header("To"):
        console.print(Text.assemble(("Envelope-To: ", "bold"), envelope))
    console.print()
    console.out(text_body(mail.message).rstrip(), highlight=False)
    found = links(mail.message)
    if found:
        console.print()
        console.print("[bold]Links:[/]")
        for i, link in enumerate(found, start=1):
            console.print(Text.assemble(f"  [{i}] ", (link, "cyan")), soft_wrap=True)
