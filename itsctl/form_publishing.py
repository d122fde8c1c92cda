"""Publishing a regulated reporting form's version into updates (DAT-2), the way a release is published
(itsctl.release_publishing, whose hashing, progress bars and streamed upload it uses): the version declared as a
draft (PUT), its file streamed unless stored already, then published. Running it again is safe: a published version
is left alone without reading its file, and an interrupted run uploads the file only if it did not arrive."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from rich.progress import Progress

from itsctl._http import Api
from itsctl.release_publishing import Bars, hash_file, upload_file


@dataclass(frozen=True)
class FormToPublish:
    code: str
    version: str
    file: Path
    name: str
    applies_from: date
    configurations: tuple[str, ...]
    basis_number: str
    basis_date: date
    changes: str = ""

    @property
    def label(self) -> str:
        return f"form {self.code} {self.version}"

    @property
    def path(self) -> str:
        return f"/v1/forms/{quote(self.code, safe='')}/versions/{quote(self.version, safe='')}"


@dataclass
class FormOutcome:
    label: str
    state: str  # published | already published | withdrawn
    form_id: str | None = None
    uploaded: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.state != "published":
            return f"{self.label}: {self.state}"
        return f"{self.label}: published ({'file uploaded' if self.uploaded else 'file stored already'})"


async def form_state(api: Api, form: FormToPublish) -> tuple[str, str] | None:
    """(state, id) of the form version in updates, None if it is not there yet."""
    _, answer = await api.call("GET", "/v1/forms?" + urlencode({"code": form.code, "limit": "1000"}))
    items = answer.get("items", []) if isinstance(answer, dict) else []
    found = next((f for f in items if f["version"] == form.version), None)
    return (found["state"], found["id"]) if found else None


async def publish_form(api: Api, form: FormToPublish, *, progress: Progress | None = None) -> FormOutcome:
    """Declare, upload the file if it is missing, publish; a published (or withdrawn) version is left alone."""
    found = await form_state(api, form)
    if found is not None and found[0] != "draft":
        state = "already published" if found[0] == "published" else found[0]
        return FormOutcome(form.label, state, found[1])
    if not form.file.is_file():
        raise FileNotFoundError(f"{form.label}: file {form.file} does not exist")
    bars = Bars(progress)
    total = form.file.stat().st_size
    size, sha256 = await asyncio.to_thread(hash_file, form.file, bars.start(f"hash   {form.file.name}", total))
    body: dict[str, Any] = {
        "name": form.name,
        "applies_from": form.applies_from.isoformat(),
        "configurations": list(form.configurations),
        "basis": {"number": form.basis_number, "date": form.basis_date.isoformat()},
        "changes": form.changes,
        "file": {"name": form.file.name, "size": size, "sha256": sha256},
    }
    _, draft = await api.call("PUT", form.path, body)
    outcome = FormOutcome(form.label, "published", draft["id"])
    if not draft["file"]["uploaded"]:
        upload = bars.start(f"upload {form.file.name}", size)
        outcome.uploaded = await upload_file(api, draft["file"]["upload"], form.file, size, upload) == 201
    await api.call("POST", f"/v1/form-versions/{draft['id']}/publish")
    return outcome
