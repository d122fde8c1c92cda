"""This machine's system in the words of the platform's kits (`os`, `arch`), so that an update fetches the platform
kits for the machine it runs on, not every system's."""

from __future__ import annotations

import platform
import sys

_OS = {"linux": "linux", "win32": "windows", "cygwin": "windows", "darwin": "macos"}
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def this_os() -> str:
    return _OS.get(sys.platform, sys.platform)


def this_arch() -> str:
    machine = platform.machine().lower()
    return _ARCH.get(machine, machine)
