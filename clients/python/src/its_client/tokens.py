"""Where the login is kept between runs: the refresh token, one file per system (its public URL) in the user's config
directory, readable by the user only (mode 0600, in a 0700 directory), written atomically (a temporary file renamed
over the old one, so a crash leaves the old token or the new, never half of one), replaced by the new one each time it
is used (identity rotates refresh tokens: the old one stops working) and removed at logout.

The access token is never stored: it lives 15 minutes, in memory. Nothing here prints or logs a token.

The directory: `ITS_CLIENT_CONFIG_DIR` if set (the command's `--config-dir`), else `%APPDATA%\\its-client` on
Windows, else `$XDG_CONFIG_HOME/its-client`, else `~/.config/its-client`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CONFIG_DIR_ENV = "ITS_CLIENT_CONFIG_DIR"
APP_DIR = "its-client"


def default_config_dir() -> Path:
    """The user's config directory for its-client (see the module's docstring)."""
    if configured := os.environ.get(CONFIG_DIR_ENV):
        return Path(configured)
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return Path(appdata) / APP_DIR if appdata else Path.home() / "AppData" / "Roaming" / APP_DIR
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config") / APP_DIR


@dataclass(frozen=True)
class StoredLogin:
    """What is kept for one system: its URL, the refresh token and who logged in (shown, never a secret)."""

    url: str
    refresh_token: str
    login: str = ""

    def __repr__(self) -> str:  # a token never reaches a log line or a traceback by way of repr()
        return f"StoredLogin(url={self.url!r}, login={self.login!r}, refresh_token=<hidden>)"


class TokenStore:
    """The refresh tokens of the systems this user logged in to, one file each under `directory`."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_config_dir()

    def path(self, url: str) -> Path:
        """The file of the system at `url`: its host and port for a person to recognise, a hash of the whole URL
        so that two systems on one host do not share a file."""
        parts = urlsplit(url)
        host = "".join(c if c.isalnum() or c in "-." else "_" for c in (parts.hostname or "local"))
        port = f"_{parts.port}" if parts.port else ""
        digest = hashlib.sha256(normalised(url).encode()).hexdigest()[:12]
        return self.directory / f"login-{host}{port}-{digest}.json"

    def load(self, url: str) -> StoredLogin | None:
        path = self.path(url)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # unreadable or damaged: as if not logged in (a new login replaces it)
        token = data.get("refresh_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            return None
        return StoredLogin(normalised(url), token, str(data.get("login") or ""))

    def save(self, login: StoredLogin) -> Path:
        """Write (or replace) the system's file atomically, mode 0600 from its creation on."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path(login.url)
        data = {"url": normalised(login.url), "login": login.login, "refresh_token": login.refresh_token}
        # mkstemp creates the file 0600 (O_EXCL): the token is never readable by others, not even for a moment.
        fd, temporary = tempfile.mkstemp(prefix=".login-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temporary, 0o600)  # mkstemp made it 0600; said again for filesystems that differ
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return path

    def remove(self, url: str) -> bool:
        """Forget the system's login; whether there was one."""
        try:
            self.path(url).unlink()
        except FileNotFoundError:
            return False
        return True

    def lock(self, url: str) -> LoginLock:
        """The lock to hold while the system's refresh token is used and replaced (see `LoginLock`)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return LoginLock(self.path(url).with_suffix(".lock"))


class LoginLock:
    """Two programs refreshing with the same token at once would present a rotated token, which identity takes for a
    stolen copy and answers by revoking the whole login; so a refresh holds this lock (a file lock, across processes),
    and reads the token after taking it (another program may have just replaced it). `acquire` blocks: call it in a
    thread from async code."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                _unlock(fd)
            finally:
                os.close(fd)


def normalised(url: str) -> str:
    """The system's URL as the key of its login: no trailing slash, scheme and host in lower case."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
