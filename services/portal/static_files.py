"""The portal's stylesheet and scripts under names that carry their content's hash.

`portal.css` is linked as `/static/portal.3f2a9c1d0b7e.css`: a browser or a CDN may keep that name for a year
without asking again (`Cache-Control: immutable`), and a new release of the file is a new name, so nobody sees a
stale stylesheet after a deploy. The plain name still answers, with `no-cache`, for whatever linked it before.
The files are read once at start: they change only with a deploy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # the plain name: kept, but asked again each time
HASH_LENGTH = 12  # 48 bits of sha256: names of one directory never collide by chance
_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class StaticFiles:
    """What the directory holds: each file's hashed name, and which file each served name is."""

    urls: dict[str, str]  # "portal.css" → "/static/portal.3f2a9c1d0b7e.css"
    files: dict[str, tuple[Path, str]]  # a served name → (the file, its Cache-Control)

    @classmethod
    def scan(cls, directory: Path) -> StaticFiles:
        urls: dict[str, str] = {}
        files: dict[str, tuple[Path, str]] = {}
        for path in sorted(directory.iterdir()):
            if not path.is_file() or not _NAME.match(path.name):
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LENGTH]
            hashed = f"{path.stem}.{digest}{path.suffix}"
            urls[path.name] = PREFIX + hashed
            files[hashed] = (path, IMMUTABLE)
            files[path.name] = (path, REVALIDATE)
        return cls(urls, files)

    def url(self, name: str) -> str:
        """The address to link `name` by (KeyError for a file that is not there: a template's typo fails loudly)."""
        return self.urls[name]

    def routes(self) -> list[web.RouteDef]:
        async def serve(request: web.Request) -> web.StreamResponse:
            found = self.files.get(request.match_info["name"])
            if found is None:
                raise web.HTTPNotFound()
            path, cache_control = found
            return web.FileResponse(path, headers={"Cache-Control": cache_control})

        return [web.get(PREFIX + "{name}", serve, name="static")]
