"""`itsctl tuf`: the keys and root of updates' signed update metadata (The Update Framework, issue 21).

    itsctl tuf init --dir D --root-keys 3 --threshold 2     root's keys, the online keys, 1.root.json
    itsctl tuf install-root D/metadata/1.root.json          into the service (in order, each new root in turn)
    itsctl tuf rotate --dir D --role timestamp [--apply]    a new key (and for a top-level role, the next root)
    itsctl tuf sign-root FILE --key /media/token/root-….pem  another root key holder's signature
    itsctl tuf resign --dir D                               the next root: same keys, a later expiry
    itsctl tuf delegate --role configuration.X --key PEM    a configuration's role takes its new (deployed) key
    itsctl tuf status                                       what the service holds and when it expires

The files: itsctl/tuf_root.py. Root's keys stay offline; only online/ goes to the service (ITS_TUF_KEYS_DIR).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.table import Table

from itsctl import tuf_root
from itsctl._common import console, fail, load_settings
from itsctl._http import CALL_ERRORS, Api, LoginOption, error_message, operator_credentials, operator_session
from itsctl.tuf_root import KeyDirectory, TufError

app = typer.Typer(help="Signed update metadata (TUF): root and its keys, offline; installing.", no_args_is_help=True)

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="The key directory (default: <ITS_VAR_DIR>/tuf, the local stack's)", show_default=False),
]
ExpiresOption = Annotated[int, typer.Option("--expires-days", min=1, max=3650, help="Days until this root expires.")]


def _directory(path: Path | None) -> KeyDirectory:
    return KeyDirectory(path if path is not None else load_settings().var_dir / "tuf")


@app.command()
def init(
    directory: DirOption = None,
    root_keys: Annotated[int, typer.Option(min=1, max=15, help="How many root keys (one per holder).")] = 3,
    threshold: Annotated[int, typer.Option(min=1, help="Root keys needed to sign a root (production: 2 or more).")] = 2,
    expires_days: ExpiresOption = 365,
    exist_ok: Annotated[bool, typer.Option(help="A directory that holds a root already: nothing to do.")] = False,
) -> None:
    """Create root's keys, the online keys and 1.root.json signed by every root key."""
    keys = _directory(directory)
    if exist_ok and keys.roots():
        console.print(f"{keys.path}: has a root already ({keys.roots()[-1].name})")
        return
    try:
        path = tuf_root.init(keys, root_keys, threshold, tuf_root.now() + _days(expires_days))
    except TufError as exc:
        fail(escape(str(exc)), code=2)
    console.print(f"root version 1 ({threshold} of {root_keys} root keys) signed: {path}")
    if threshold < 2:
        console.print("[yellow]one root key suffices to sign a root: a local stack's, never production's[/]")
    console.print(f"root's private keys:   {keys.root_keys}/  [bold]OFFLINE[/]: each to its holder's token or medium")
    console.print(f"online private keys:   {keys.online}/  the service's ITS_TUF_KEYS_DIR (a Kubernetes Secret)")
    console.print(f"next: deploy {keys.online}/, then `itsctl tuf install-root {path}`")


@app.command("install-root")
def install_root(
    files: Annotated[list[Path], typer.Argument(help="Root metadata files, oldest first.", show_default=False)],
    login: LoginOption = None,
) -> None:
    """Install roots into the service, in order (a root installed already is left as it is)."""
    credentials = operator_credentials(login)

    async def go() -> list[tuple[Path, Any]]:
        async with operator_session(credentials) as operator:
            return await install_roots(operator.api("updates"), files)

    try:
        answers = asyncio.run(go())
    except (OSError, ValueError) as exc:
        fail(escape(str(exc)), code=2)
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    for path, answer in answers:
        console.print(f"{escape(str(path))}: {'installed' if answer['changed'] else 'installed already'}")
    _print_roles(answers[-1][1])


async def install_roots(api: Api, files: list[Path]) -> list[tuple[Path, Any]]:
    """POST each root to the service in turn: what it answered for each."""
    answers = []
    for path in files:
        _, answer = await api.call("POST", "/v1/tuf/root", json.loads(path.read_bytes()))
        answers.append((path, answer))
    return answers


@app.command()
def rotate(
    role: Annotated[str, typer.Option(help="root, targets, snapshot, timestamp, platform or configuration.<code>")],
    directory: DirOption = None,
    replace: Annotated[
        list[str] | None, typer.Option(help="root: only this root key (a keyid prefix; repeatable); default all")
    ] = None,
    expires_days: ExpiresOption = 365,
    apply: Annotated[bool, typer.Option(help="Install the new root (or key) at the service right away.")] = False,
    login: LoginOption = None,
) -> None:
    """A new key for ROLE. Root and the top-level online roles: the next root version, signed by the root keys at
    hand (old and new, as clients require to follow the chain). A configuration's role: only the key; the service
    re-signs targets when it is applied (`--apply`, or `itsctl tuf delegate` once the key is deployed)."""
    keys = _directory(directory)
    try:
        tuf_root.check_role(role)
        if role in ("root", "targets", "snapshot", "timestamp"):
            path, lines = _rotate_in_root(keys, role, replace or [], expires_days)
        else:
            signer = tuf_root.new_key(keys.online, role)
            path, lines = keys.online / f"{role}-{signer.public_key.keyid[:16]}.pem", []
    except TufError as exc:
        fail(escape(str(exc)), code=2)
    for line in lines:
        console.print(escape(line))
    if role.startswith(("configuration.", "platform")):
        console.print(f"new key of {escape(role)}: {escape(str(path))} (deploy {escape(str(keys.online))}/ first)")
        if apply:
            delegate(role=role, key=path, login=login)
        else:
            console.print(f"next: `itsctl tuf delegate --role {escape(role)} --key {escape(str(path))}`")
    elif apply:
        install_root(files=[path], login=login)
    else:
        online = escape(str(keys.online))
        console.print(f"next: deploy {online}/ (the old and new keys), then `itsctl tuf install-root {path}`")


def _rotate_in_root(keys: KeyDirectory, role: str, replace: list[str], expires_days: int) -> tuple[Path, list[str]]:
    current = keys.newest_root()
    md = tuf_root.next_root(current, tuf_root.now() + _days(expires_days))
    lines = []
    if role == "root":
        old = list(current.signed.roles["root"].keyids)
        added = tuf_root.rotate_root_keys(keys, md, replace)
        lines.append(f"new root keys: {', '.join(s.public_key.keyid[:16] for s in added)} in {keys.root_keys}/")
    else:
        signer = tuf_root.rotate_online_key(keys, md, role)
        keyid = signer.public_key.keyid[:16]
        lines.append(f"new {role} key {keyid} in {keys.online}/ (the old one is used until the root is installed)")
    signed = tuf_root.sign_root(md, tuf_root.keys_in(keys.root_keys).values(), current.signed)
    path = tuf_root.write_root(keys, md)
    verdict = tuf_root.verdict(md, current.signed)
    lines.append(f"{path}: root version {md.signed.version}, {verdict.line()}")
    if role == "root":
        retired = tuf_root.retire_root_keys(keys, [k for k in old if k not in md.signed.roles["root"].keyids])
        lines += [f"retired: {p}" for p in retired]
    if not verdict.complete:
        lines.append(f"more signatures needed: `itsctl tuf sign-root {path} --key <a root key>` ({len(signed)} so far)")
    return path, lines


@app.command("sign-root")
def sign_root(
    file: Annotated[Path, typer.Argument(help="The root metadata to sign (N.root.json).", show_default=False)],
    key: Annotated[list[Path] | None, typer.Option(help="A root private key (repeatable); default: the dir's")] = None,
    directory: DirOption = None,
) -> None:
    """Add root key holders' signatures to a root (each holder in turn, with their own key)."""
    keys = _directory(directory)
    try:
        md = tuf_root.read_root(file)
        signers = [tuf_root.read_key(path) for path in key] if key else list(tuf_root.keys_in(keys.root_keys).values())
        previous = tuf_root.previous_root(KeyDirectory(file.parent.parent), md)
        signed = tuf_root.sign_root(md, signers, previous)
        file.write_bytes(md.to_bytes(tuf_root.PRETTY))
        verdict = tuf_root.verdict(md, previous)
    except TufError as exc:
        fail(escape(str(exc)), code=2)
    console.print(f"{escape(str(file))}: signed by {len(signed)} more key(s); {verdict.line()}")
    if not verdict.complete:
        fail("not yet enough signatures for clients to accept it", code=1)


@app.command()
def resign(directory: DirOption = None, expires_days: ExpiresOption = 365) -> None:
    """The next root version with the same keys and a later expiry (root expires: renew it well before)."""
    keys = _directory(directory)
    try:
        current = keys.newest_root()
        md = tuf_root.next_root(current, tuf_root.now() + _days(expires_days))
        tuf_root.sign_root(md, tuf_root.keys_in(keys.root_keys).values(), current.signed)
        path = tuf_root.write_root(keys, md)
        verdict = tuf_root.verdict(md, current.signed)
    except TufError as exc:
        fail(escape(str(exc)), code=2)
    console.print(f"{escape(str(path))}: root version {md.signed.version}, {verdict.line()}")
    console.print(f"next: `itsctl tuf install-root {escape(str(path))}`")


@app.command()
def delegate(
    role: Annotated[str, typer.Option(help="platform or configuration.<code>")],
    key: Annotated[Path, typer.Option(help="The role's new private key (only its public half is sent).")],
    login: LoginOption = None,
) -> None:
    """Give a configuration's (or the platform's) role its new key: the service holds it already (deployed)."""
    try:
        public = tuf_root.read_key(key).public_key
    except (OSError, TufError) as exc:
        fail(escape(str(exc)), code=2)
    credentials = operator_credentials(login)
    body = {"key": {"keyid": public.keyid, **public.to_dict()}}

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call("PUT", f"/v1/tuf/roles/{quote(role, safe='')}/key", body)
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    console.print(f"{escape(role)} is signed by {public.keyid[:16]} now")
    _print_roles(answer)


@app.command()
def status(login: LoginOption = None) -> None:
    """Every role's newest version and when it expires (soonest first), and the keys the answering replica holds."""
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call("GET", "/v1/tuf/status")
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    if not answer["roles"]:
        console.print("no root installed: the metadata is not maintained (itsctl tuf install-root)")
    _print_roles(answer)
    console.print(f"keys held: {', '.join(k[:16] for k in answer['keyids']) or 'none (ITS_TUF_KEYS_DIR unset)'}")


def _print_roles(answer: Any) -> None:
    table = Table("role", "version", "expires")
    for role in answer["roles"]:
        table.add_row(escape(role["role"]), str(role["version"]), role["expires"])
    console.print(table)


def _days(days: int) -> timedelta:
    return timedelta(days=days)
