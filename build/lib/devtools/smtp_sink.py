"""A local SMTP sink: every message received is kept as an `.eml` file.

Files land in `<var_dir>/mail/` (`ITS_VAR_DIR`, default `var`), named by arrival
time so that sorting the names sorts the mail (`20261127T221500.123456-1a2b3c4d.eml`),
and are written atomically: a reader never sees half a message. The envelope is
recorded in `X-Sink-Mail-From` / `X-Sink-Rcpt-To` headers prepended to the message.

Plain SMTP, no authentication, no TLS. For development and tests only.

    python -m devtools.smtp_sink [--host 127.0.0.1] [--port 1025]

In tests, run it in-process: `sink = start_sink(tmp_path / "mail", "127.0.0.1", 0)`
... `sink.stop()`.
"""

from __future__ import annotations

import argparse
import asyncio
import email.parser
import email.policy
import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

SERVER_HOSTNAME = "its-smtp-sink"  # avoids a reverse-DNS lookup (socket.getfqdn) at start
DATA_SIZE_LIMIT = 32 * 1024 * 1024


def default_mail_dir() -> Path:
    return Path(os.environ.get("ITS_VAR_DIR") or "var") / "mail"


def _log(**fields: Any) -> None:
    fields = {"ts": datetime.now(UTC).isoformat(), "logger": "smtp_sink", **fields}
    sys.stdout.write(json.dumps(fields, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _header_safe(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


class MailSink:
    """aiosmtpd handler: accept every recipient, store every message as a file."""

    def __init__(self, mail_dir: Path, *, log: bool = True) -> None:
        self.mail_dir = mail_dir
        self.log = log

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        rcpt_tos = [str(r) for r in envelope.rcpt_tos]
        try:
            path = self.store(content, mail_from, rcpt_tos)
        except OSError as exc:
            _log(level="error", event="mail.store_failed", error=str(exc))
            return "451 Requested action aborted: could not store the message"
        if self.log:
            subject = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(content)["Subject"]
            _log(
                level="info",
                event="mail.received",
                file=str(path),
                mail_from=mail_from,
                rcpt_to=rcpt_tos,
                subject=str(subject) if subject is not None else None,
                size=len(content),
                peer=str(session.peer[0]) if session.peer else None,
            )
        return "250 Message accepted for delivery"

    def store(self, content: bytes, mail_from: str, rcpt_tos: list[str]) -> Path:
        """Write one message atomically; return its path."""
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        envelope_headers = (
            f"X-Sink-Mail-From: {_header_safe(mail_from)}\r\nX-Sink-Rcpt-To: {_header_safe(', '.join(rcpt_tos))}\r\n"
        ).encode()
        final = self.mail_dir / name
        tmp = self.mail_dir / f".{name}.tmp"  # not matched by `*.eml`
        try:
            with open(tmp, "wb") as f:
                f.write(envelope_headers)
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final


class SinkController(Controller):
    """A threaded aiosmtpd Controller that also knows where the mail goes."""

    def __init__(self, mail_dir: Path, host: str, port: int, *, log: bool = True) -> None:
        self.mail_dir = mail_dir
        super().__init__(
            MailSink(mail_dir, log=log),
            hostname=host,
            port=port,
            server_hostname=SERVER_HOSTNAME,
            data_size_limit=DATA_SIZE_LIMIT,
        )

    def _trigger_server(self) -> None:
        if self.port == 0:  # an ephemeral port: find out which one before connecting
            sockets = getattr(self.server, "sockets", None)
            if sockets:
                self.port = int(sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


def start_sink(mail_dir: Path, host: str = "127.0.0.1", port: int = 1025) -> SinkController:
    """Run the sink in a background thread; `port=0` picks a free port (see `.port`).

    Call `.stop()` when done.
    """
    mail_dir.mkdir(parents=True, exist_ok=True)
    controller = SinkController(mail_dir, host, port, log=False)
    controller.start()
    return controller


def stored_mail(mail_dir: Path) -> list[Path]:
    """The stored messages, oldest first."""
    return sorted(mail_dir.glob("*.eml"))


def read_mail(path: Path) -> EmailMessage:
    with open(path, "rb") as f:
        msg = email.parser.BytesParser(policy=email.policy.default).parse(f)
    assert isinstance(msg, EmailMessage)
    return msg


async def wait_for_mail(
    mail_dir: Path, *, to: str | None = None, after: int = 0, seconds: float = 10.0
) -> tuple[Path, EmailMessage]:
    """Wait until a message (to `to`, if given) is stored beyond the first `after` files."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        for path in stored_mail(mail_dir)[after:]:
            msg = read_mail(path)
            recipients = f"{msg.get('X-Sink-Rcpt-To', '')},{msg.get('To', '')}".lower()
            if to is None or to.lower() in recipients:
                return path, msg
        if loop.time() >= deadline:
            raise TimeoutError(f"no mail{f' to {to}' if to else ''} in {mail_dir} after {seconds}s")
        await asyncio.sleep(0.05)


async def serve(mail_dir: Path, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = MailSink(mail_dir)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=SERVER_HOSTNAME, data_size_limit=DATA_SIZE_LIMIT),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = [s.getsockname() for s in server.sockets]
    _log(
        level="info",
        event="sink.started",
        listen=bound,
        mail_dir=str(mail_dir),
    )
    await stop.wait()
    server.close()
    await server.wait_closed()
    _log(level="info", event="sink.stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.smtp_sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument(
        "--mail-dir",
        type=Path,
        default=None,
        help="default: $ITS_VAR_DIR/mail (var/mail)",
    )
    args = parser.parse_args(argv)
    mail_dir: Path = (args.mail_dir or default_mail_dir()).resolve()
    mail_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve(mail_dir, args.host, args.port))
    except OSError as exc:  # e.g. the port is taken
        _log(level="error", event="sink.failed", error=str(exc))
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
