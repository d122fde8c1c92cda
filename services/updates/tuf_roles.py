"""The roles and paths of updates' signed metadata (The Update Framework, issue 21): pure, no I/O.

Every kit of a published release is a TUF target at `configurations/<configuration>/<version>/<kit name>` or
`platform/<version>/<kit name>` — `target_path` is the one function that says so (a client computes the same path
from its update plan). The top-level `targets` role signs no kit itself: it delegates each configuration's paths to a
role of its own, `configuration.<code>`, and the platform's to `platform`, so that one configuration's signing key can
be replaced without touching another's.

What is served is named as TUF's consistent snapshots name it: `<version>.<role>.json` for every version of root,
targets, snapshot and the delegated roles (never changing once written), and `timestamp.json` for the newest
timestamp. `MetadataName.parse` reads such a name, refusing anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

ROOT, TARGETS, SNAPSHOT, TIMESTAMP = "root", "targets", "snapshot", "timestamp"
TOP_LEVEL = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
ONLINE = (TARGETS, SNAPSHOT, TIMESTAMP)  # signed by the service with the keys it is given; root is signed offline
PLATFORM = "platform"
# The key a newly delegated role (a configuration's first release) is given, among the online keys (tuf_keys.py).
DELEGATIONS_KEY_FILE = "delegations.pem"
CONFIGURATION_PREFIX = "configuration."

# The same rules as the releases and kits tables (a configuration code as registration allows it, no '/' anywhere,
# nothing fnmatch reads as a wildcard), so that every path a kit can have is a plain one.
_CODE = r"[A-Za-z][A-Za-z0-9_.-]{0,63}"
_ROLE = re.compile(rf"(?:{PLATFORM}|{re.escape(CONFIGURATION_PREFIX)}{_CODE})")
# A served name: `timestamp.json`, or `<version>.<role>.json` (1..9 digits: within the `integer` the table holds).
_NAME = re.compile(
    rf"(?:(?P<version>[1-9][0-9]{{0,8}})\.(?P<role>root|targets|snapshot|{_ROLE.pattern})|timestamp)\.json"
)

# How long each role's metadata is valid, and how long before it expires the service signs it again (the renewal
# job runs every hour: RENEWAL_INTERVAL). Root's expiry is the root key holders' (itsctl tuf: a year by default).
EXPIRY = {TARGETS: timedelta(days=90), SNAPSHOT: timedelta(days=7), TIMESTAMP: timedelta(days=1)}
DELEGATED_EXPIRY = timedelta(days=90)
RENEW_BEFORE = {TARGETS: timedelta(days=30), SNAPSHOT: timedelta(days=3), TIMESTAMP: timedelta(hours=12)}
DELEGATED_RENEW_BEFORE = timedelta(days=30)
RENEWAL_INTERVAL = timedelta(hours=1)


def target_path(configuration: str | None, version: str, kit_name: str) -> str:
    """A kit's target path: `configurations/<configuration>/<version>/<kit name>`, or `platform/<version>/<kit name>`
    for a platform kit (configuration None)."""
    if configuration is None:
        return f"platform/{version}/{kit_name}"
    return f"configurations/{configuration}/{version}/{kit_name}"


def role_of(configuration: str | None) -> str:
    """The delegated role that signs the kits of a configuration (None: the platform)."""
    return PLATFORM if configuration is None else f"{CONFIGURATION_PREFIX}{configuration}"


def delegated_paths(role: str) -> list[str]:
    """The target path patterns `targets` delegates to `role`. TUF matches a pattern part by part (`*` never spans a
    '/'), so a version and a kit name are one `*` each."""
    if role == PLATFORM:
        return ["platform/*/*"]
    return [f"configurations/{role.removeprefix(CONFIGURATION_PREFIX)}/*/*"]


def is_delegated_role(role: str) -> bool:
    return _ROLE.fullmatch(role) is not None


def expiry(role: str) -> timedelta:
    return EXPIRY.get(role, DELEGATED_EXPIRY)


def renew_before(role: str) -> timedelta:
    return RENEW_BEFORE.get(role, DELEGATED_RENEW_BEFORE)


@dataclass(frozen=True)
class MetadataName:
    """A metadata file's name as served: the role, and its version (None: `timestamp.json`, the newest)."""

    role: str
    version: int | None

    @classmethod
    def parse(cls, name: str) -> MetadataName | None:
        """The name's role and version; None for anything that is not the name of a file we serve (an unversioned
        root, targets or snapshot, a versioned timestamp, a role that cannot exist)."""
        match = _NAME.fullmatch(name)
        if match is None:
            return None
        if match["version"] is None:
            return cls(TIMESTAMP, None)
        return cls(match["role"], int(match["version"]))

    def __str__(self) -> str:
        return f"{self.role}.json" if self.version is None else f"{self.version}.{self.role}.json"
