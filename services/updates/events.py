"""updates' records as the events it publishes through the outbox (UPD-1, UPD-2, UPD-3, UPD-6, DAT-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.updates import articles_store, forms_store, store
from shared.events.updates import (
    ArticleSaved,
    ArticleWithdrawn,
    ReleasePublished,
    ReleaseWithdrawn,
    ReportingFormPublished,
    ReportingFormWithdrawn,
)


def _release(release: store.Release, configuration_name: str | None) -> dict[str, Any]:
    """What every release event says about the release."""
    return {
        "release_id": release.id,
        "kind": release.kind,
        "configuration": release.configuration,
        "configuration_name": configuration_name,
        "version": release.version,
        "release_date": release.release_date,
        "its_issue": release.its_issue,
    }


def release_published(release: store.Release, configuration_name: str | None) -> ReleasePublished:
    return ReleasePublished(
        **_release(release, configuration_name),
        prerelease=release.prerelease,
        whats_new=release.whats_new,
        min_platform=release.min_platform,
        grade=release.grade,  # the table's CHECK keeps it to the three grades
    )


def release_withdrawn(release: store.Release, configuration_name: str | None, reason: str) -> ReleaseWithdrawn:
    return ReleaseWithdrawn(**_release(release, configuration_name), reason=reason)


def article_saved(article: articles_store.Article) -> ArticleSaved:
    assert article.published_at is not None and article.updated_at is not None  # as stored
    return ArticleSaved(
        slug=article.slug,
        configuration=article.configuration,
        kind=article.kind,  # the table's CHECK keeps it to the two kinds
        title=article.title,
        body=article.body,
        versions=list(article.versions),
        published_at=article.published_at,
        updated_at=article.updated_at,
    )


def article_withdrawn(slug: str, now: datetime) -> ArticleWithdrawn:
    return ArticleWithdrawn(slug=slug, withdrawn_at=now)


def _form(form: forms_store.FormVersion) -> dict[str, Any]:
    """What every reporting form event says about the form version (DAT-2)."""
    return {
        "form_id": form.id,
        "code": form.code,
        "version": form.version,
        "name": form.name,
        "applies_from": form.applies_from,
        "configurations": list(form.configurations),
    }


def form_published(form: forms_store.FormVersion) -> ReportingFormPublished:
    return ReportingFormPublished(
        **_form(form), basis_number=form.basis_number, basis_date=form.basis_date, changes=form.changes
    )


def form_withdrawn(form: forms_store.FormVersion, reason: str) -> ReportingFormWithdrawn:
    return ReportingFormWithdrawn(**_form(form), reason=reason)
