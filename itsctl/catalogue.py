"""`itsctl catalogue import FILE`: configurations and products, from YAML or JSON, into registration.

The file:

    configurations:
      - {code: Accounting, name: "Accounting", maintenance_category: 1, vendor: "..."}
    products:
      - {article: "4601546041807", name: "Accounting PROF", edition: PROF,
         configurations: [Accounting], pin_envelope: true}   # its_required: optional

Every entry is PUT (configurations first, then products), so importing a file again changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import pydantic
import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from rich.markup import escape

from itsctl._common import console, fail
from itsctl._http import (
    CALL_ERRORS,
    Api,
    LoginOption,
    error_message,
    operator_credentials,
    operator_session,
    service_url,
)
from services.registration.public import is_ean13

app = typer.Typer(help="The product catalogue: configurations and products.", no_args_is_help=True)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# As registration checks them: a letter, then letters, digits, '_', '.', '-'; up to 64.
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]


class CatalogueError(ValueError):
    """The file cannot be read or is not a valid catalogue; the message says where."""


class ConfigurationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Text
    maintenance_category: Literal[1, 2]
    vendor: Text


class ProductEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article: str
    name: Text
    edition: Literal["BASIC", "PROF", "CORP", "SPECIAL"]
    configurations: list[Code] = Field(min_length=1, max_length=50)
    pin_envelope: bool
    its_required: bool | None = None

    @field_validator("article", mode="before")
    @classmethod
    def _article(cls, value: Any) -> Any:
        hint = ""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # YAML reads an unquoted article as a number, and drops its leading zeros
            hint = "; quote it in YAML so that leading zeros are kept"
        if isinstance(value, str):
            value = value.strip()
            if not is_ean13(value):
                raise ValueError(f"not an EAN-13 code (13 digits, the last a check digit){hint}")
        return value

    def body(self) -> dict[str, Any]:
        """The PUT /v1/products/{article} body; its_required only when the file sets it."""
        return self.model_dump(exclude={"article"}, exclude_none=True)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configurations: list[ConfigurationEntry] = []
    products: list[ProductEntry] = []


def parse_catalogue(data: Any, source: str = "the catalogue") -> Catalogue:
    """Check the shape of a decoded file; CatalogueError names the bad entries."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}: expected a mapping with `configurations` and `products`")
    try:
        catalogue = Catalogue.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [_problem(data, error) for error in exc.errors(include_url=False)]
        raise CatalogueError(_invalid(source, problems)) from None
    problems = _duplicates("configurations", [c.code for c in catalogue.configurations], "code")
    problems += _duplicates("products", [p.article for p in catalogue.products], "article")
    for i, product in enumerate(catalogue.products):
        if len(set(product.configurations)) != len(product.configurations):
            problems.append(f"products[{i}] ({_label(data, 'products', i)}): configurations: a code is listed twice")
    if problems:
        raise CatalogueError(_invalid(source, problems))
    if not catalogue.configurations and not catalogue.products:
        raise CatalogueError(f"{source}: no configurations and no products")
    return catalogue


def load_catalogue(path: Path) -> Catalogue:
    """Read and check a .yaml/.yml or .json catalogue file."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise CatalogueError(f"{path}: expected a .yaml, .yml or .json file")
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f) if suffix == ".json" else yaml.safe_load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path} is not valid YAML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path} is not valid JSON: {exc}") from None
    return parse_catalogue(data, str(path))


def _invalid(source: str, problems: list[str]) -> str:
    return f"{source} is not a valid catalogue:\n" + "\n".join(f"  - {p}" for p in problems)


def _label(data: Any, section: str, index: int) -> str:
    """What names entry `index` of `section` in the file: its code or article, and its name."""
    try:
        entry = data[section][index]
    except (KeyError, IndexError, TypeError):
        return "?"
    if not isinstance(entry, dict):
        return repr(entry)[:40]
    key = entry.get("code" if section == "configurations" else "article")
    name = entry.get("name")
    return " ".join(str(part) for part in (key, repr(name) if name is not None else None) if part is not None) or "?"


def _problem(data: Any, error: Any) -> str:
    loc = tuple(error["loc"])
    message = {
        "extra_forbidden": "unknown field",
        "missing": "missing",
        "string_pattern_mismatch": "a letter, then letters, digits, '_', '.' or '-' (64 at most)",
        "model_type": "expected a mapping of fields",
        "model_attributes_type": "expected a mapping of fields",
    }.get(error["type"], error["msg"].removeprefix("Value error, "))
    if len(loc) >= 2 and loc[0] in ("configurations", "products") and isinstance(loc[1], int):
        where = f"{loc[0]}[{loc[1]}] ({_label(data, str(loc[0]), loc[1])})"
        rest = ".".join(str(part) for part in loc[2:])
        return f"{where}: {rest + ': ' if rest else ''}{message}"
    return f"{'.'.join(str(part) for part in loc) or '(file)'}: {message}"


def _duplicates(section: str, keys: list[str], what: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for i, key in enumerate(keys):
        if key in seen:
            problems.append(f"{section}[{i}]: {what} {key} is also {section}[{seen[key]}]")
        else:
            seen[key] = i
    return problems


@dataclass
class ImportSummary:
    configurations: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0})
    products: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0})

    def line(self) -> str:
        c, p = self.configurations, self.products
        return (
            f"configurations: {c['created']} created, {c['updated']} updated; "
            f"products: {p['created']} created, {p['updated']} updated"
        )


async def import_catalogue(
    registration: Api, catalogue: Catalogue, *, on_entry: Callable[[str, str, bool], None] | None = None
) -> ImportSummary:
    """PUT every configuration, then every product; `on_entry(kind, key, created)` after each."""
    summary = ImportSummary()
    for c in catalogue.configurations:
        status, _ = await registration.call(
            "PUT", f"/v1/configurations/{quote(c.code, safe='')}", c.model_dump(exclude={"code"})
        )
        summary.configurations["created" if status == 201 else "updated"] += 1
        if on_entry:
            on_entry("configuration", c.code, status == 201)
    for p in catalogue.products:
        status, _ = await registration.call("PUT", f"/v1/products/{p.article}", p.body())
        summary.products["created" if status == 201 else "updated"] += 1
        if on_entry:
            on_entry("product", p.article, status == 201)
    return summary


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(help="A .yaml/.yml or .json file with `configurations` and `products`.", show_default=False),
    ],
    login: LoginOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every entry as it is saved.")] = False,
) -> None:
    """Create or update the configurations and products of FILE in registration (safe to repeat)."""
    try:
        catalogue = load_catalogue(file)
    except CatalogueError as exc:
        fail(escape(str(exc)), code=2)
    credentials = operator_credentials(login)
    saved = 0

    def say(kind: str, key: str, created: bool) -> None:
        nonlocal saved
        saved += 1
        if verbose:
            console.print(f"{kind} {escape(key)}: {'created' if created else 'updated'}")

    async def go() -> ImportSummary:
        async with operator_session(credentials) as operator:
            return await import_catalogue(operator.api("registration"), catalogue, on_entry=say)

    try:
        summary = asyncio.run(go())
    except CALL_ERRORS as exc:
        message = error_message(exc)
        if saved:
            total = len(catalogue.configurations) + len(catalogue.products)
            message += f"\n{saved} of {total} entries were saved before it; importing again is safe"
        fail(escape(message))
    console.print(f"{escape(str(file))} imported into {service_url('registration')}: {summary.line()}")
