"""The regulated reporting forms' models (DAT-2): what operators send and are answered, what client programs ask
and are given, the path parameters and the problems."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from services.updates import forms_store
from services.updates.answers import answer
from services.updates.catalogue_models import ConfigurationCode, Issue, KitName, LongMarkdown, Sha256, Size, Title
from services.updates.form_rules import FORM_VERSION_EXAMPLE, FORM_VERSION_PATTERN, form_version_key
from shared.markdown import render
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import PathParams, StrictModel
from shared.problems import NotFound

FORM_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"  # the regulator's code, e.g. the KND code 1151001; as the table
MAX_CONFIGURATIONS = 50
MAX_HELD_FORMS = 2_000  # forms a program says it holds: more than any configuration has
FORMS_CURSOR = "f1"  # (code, version) of the form version last seen

FormCode = Annotated[str, StringConstraints(pattern=FORM_CODE)]


def _form_version(text: str) -> str:
    form_version_key(text)  # ValueError: a 422 that names the field and says what is wrong
    return text


FormVersionText = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_form_version),
    Field(json_schema_extra={"pattern": FORM_VERSION_PATTERN, "examples": [FORM_VERSION_EXAMPLE]}),
]


class FormFileIn(StrictModel):
    """The form's one file (the package for the program), uploaded afterwards and checked against this."""

    name: KitName
    size: Size
    sha256: Sha256


class BasisIn(StrictModel):
    """The regulator's order that approved this version of the form."""

    number: Issue
    date: date


class FormDraftIn(StrictModel):
    """DAT-2: a version of a regulated reporting form, for the client programs of these configurations."""

    name: Title
    applies_from: date = Field(description="The first day of the reporting period the version applies to")
    configurations: list[ConfigurationCode] = Field(min_length=1, max_length=MAX_CONFIGURATIONS)
    basis: BasisIn
    changes: LongMarkdown = Field(default="", description="What changed from the version before (Markdown)")
    file: FormFileIn

    @field_validator("configurations")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a configuration is listed twice")
        return sorted(value)


class FormFileOut(BaseModel):
    name: str
    size: int
    sha256: str
    uploaded: bool
    upload: str  # where to PUT its content


class FormOut(BaseModel):
    id: uuid.UUID
    code: str
    version: str
    name: str
    applies_from: date
    configurations: list[str]
    basis_number: str
    basis_date: date
    changes: str
    state: str
    file: FormFileOut
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


def form_out(form: forms_store.FormVersion) -> FormOut:
    return answer(
        FormOut,
        form,
        configurations=list(form.configurations),
        file=FormFileOut(
            name=form.file_name,
            size=form.file_size,
            sha256=form.file_sha256,
            uploaded=form.uploaded_at is not None,
            upload=f"/v1/form-versions/{form.id}/file",
        ),
    )


class FormList(BaseModel):
    items: list[FormOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class FormListQuery(StrictModel):
    code: FormCode | None = None
    configuration: ConfigurationCode | None = None
    state: Literal["draft", "published", "withdrawn"] | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            forms_after(value)  # not ours: a 422
        return value


def forms_after(cursor: str) -> tuple[str, tuple[int, ...]]:
    """The key of the form version last seen; ValueError (a 422) for a cursor not handed out here: its code is checked
    like a path's, so that a forged one (a NUL in it) never reaches the database."""
    code, version = decode_cursor(FORMS_CURSOR, cursor, 2)
    if not re.fullmatch(FORM_CODE, code):
        raise ValueError("not a cursor from this list")
    return code, form_version_key(version)  # ValueError: not ours


def forms_cursor(form: forms_store.FormVersion) -> str:
    return encode_cursor(FORMS_CURSOR, form.code, form.version)


# ---- client programs -------------------------------------------------------------------------


class FormUpdatesIn(StrictModel):
    """DAT-2: the configuration a client program runs and the version of each form it holds."""

    configuration: ConfigurationCode
    forms: dict[FormCode, FormVersionText] = Field(
        default={},
        max_length=MAX_HELD_FORMS,
        description="The version held of each form, by form code",
        # Only form codes as keys: without it the document's patternProperties would let any other key through.
        json_schema_extra={"additionalProperties": False},
    )


class FormFileLink(BaseModel):
    name: str
    size: int
    sha256: str
    url: str = Field(description="A signed link to the file, valid until `link_expires_at`")


class PublishedFormFields(BaseModel):
    """What client programs and subscribers are told of a published form version."""

    version: str
    name: str
    applies_from: date
    basis_number: str
    basis_date: date
    changes: str  # Markdown
    published_at: datetime | None


class FormUpdate(PublishedFormFields):
    code: str
    file: FormFileLink


class FormUpdatesOut(BaseModel):
    configuration: str
    forms: list[FormUpdate] = Field(description="The forms to receive, by code; empty when every form is current")
    link_expires_at: datetime


class FormVersionItem(PublishedFormFields):
    id: uuid.UUID  # its file: GET /v1/form-versions/{id}/download
    changes_html: str  # `changes` as safe HTML
    size: int  # the file's, in bytes


class FormHistory(BaseModel):
    code: str
    name: str  # the newest version's
    versions: list[FormVersionItem]  # newest first


class ConfigurationFormList(BaseModel):
    configuration: str
    configuration_name: str | None
    forms: list[FormHistory]


def form_update(form: forms_store.FormVersion, url: str) -> FormUpdate:
    return answer(
        FormUpdate, form, file=FormFileLink(name=form.file_name, size=form.file_size, sha256=form.file_sha256, url=url)
    )


def form_history(code: str, versions: list[forms_store.FormVersion]) -> FormHistory:
    return FormHistory(
        code=code,
        name=versions[0].name,
        versions=[answer(FormVersionItem, v, changes_html=render(v.changes), size=v.file_size) for v in versions],
    )


# ---- path parameters and problems ------------------------------------------------------------


class FormVersionPath(PathParams):
    code: FormCode
    version: FormVersionText


class FormNotFound(NotFound):
    slug, title = "form-not-found", "No such reporting form version"


class FormIdPath(PathParams):
    form_id: uuid.UUID

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> FormNotFound:
        return FormNotFound("a form version id is a UUID")
