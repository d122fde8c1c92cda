"""The name of a kit in the signed update metadata (TUF targets), which is also where `update` puts it under the
directory it downloads to: `configurations/<configuration>/<version>/<kit name>` for a configuration's release,
`platform/<version>/<kit name>` for a platform release."""

from __future__ import annotations

import re

# Configuration codes, versions and kit names as the portal accepts them: one path segment each, never "." or "..".
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def target_path(configuration: str | None, version: str, kit_name: str) -> str:
    """The kit's TUF target path; `configuration` None for a platform release. ValueError for a segment that is not
    a plain name (a path must not climb out of the download directory)."""
    for segment in (configuration, version, kit_name):
        if segment is not None and _SEGMENT.match(segment) is None:
            raise ValueError(f"not a plain name for a target path: {segment!r}")
    if configuration is None:
        return f"platform/{version}/{kit_name}"
    return f"configurations/{configuration}/{version}/{kit_name}"
