"""A release's notes as its page shows them: the Markdown sections rendered to safe HTML (markdown.py). The
release pages (pages_api.py) and the operators' preview of a draft's notes (release_api.py) both call these, so
a preview is exactly what the page will show."""

from __future__ import annotations

from collections.abc import Sequence

from shared.markdown import render, render_inline


def configuration_notes_html(
    *, whats_new: str, changes: str, major_changes: Sequence[str], update_procedure: str
) -> dict[str, str | list[str]]:
    """UPD-1's Markdown sections as HTML: `<section>_html` each; a major change is one line (inline)."""
    return {
        "whats_new_html": render(whats_new),
        "changes_html": render(changes),
        "major_changes_html": [render_inline(line) for line in major_changes],
        "update_procedure_html": render(update_procedure),
    }


def platform_notes_html(*, differences: str, migration_notes: str) -> dict[str, str]:
    """UPD-2's Markdown sections as HTML (the fixed bugs and the ReadMe are plain text)."""
    return {"differences_html": render(differences), "migration_notes_html": render(migration_notes)}
