"""`itsctl catalogue import`: reading and checking the file, before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from itsctl._http import describe_error
from itsctl.catalogue import CatalogueError, load_catalogue, parse_catalogue
from services.registration.domain import is_ean13

DEMO = Path(__file__).resolve().parents[2] / "devtools" / "demo" / "data" / "registration" / "demo_catalogue.yaml"


def configuration(**overrides: Any) -> dict[str, Any]:
    return {"code": "Accounting", "name": "Accounting", "maintenance_category": 1, "vendor": "ITS", **overrides}


def product(**overrides: Any) -> dict[str, Any]:
    return {
        "article": "4601546041807",
        "name": "Accounting PROF",
        "edition": "PROF",
        "configurations": ["Accounting"],
        "pin_envelope": True,
        **overrides,
    }


def problems(data: Any) -> str:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(data, "cat.yaml")
    return str(caught.value)


def test_the_demo_catalogue_is_valid() -> None:
    catalogue = load_catalogue(DEMO)
    codes = {c.code for c in catalogue.configurations}
    assert codes >= {"Accounting", "Payroll", "Trade", "SmallBusiness"}
    assert {c.maintenance_category for c in catalogue.configurations} == {1, 2}
    assert 5 <= len(catalogue.products) <= 6
    assert all(is_ean13(p.article) for p in catalogue.products)
    assert {p.edition for p in catalogue.products} >= {"BASIC", "PROF", "CORP"}
    assert all(p.pin_envelope for p in catalogue.products if p.edition == "BASIC")
    assert not any(p.pin_envelope for p in catalogue.products if p.edition == "CORP")
    assert any(p.pin_envelope for p in catalogue.products if p.edition == "PROF")
    assert any(p.article == "4601546041807" and p.name == "Accounting PROF" for p in catalogue.products)
    # Every product's configurations are in the file: the demo loads into an empty database.
    assert all(set(p.configurations) <= codes for p in catalogue.products)


def test_yaml_and_json_read_alike(tmp_path: Path) -> None:
    data = {"configurations": [configuration()], "products": [product(its_required=False)]}
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.yml").write_text(
        "configurations:\n"
        "  - {code: Accounting, name: Accounting, maintenance_category: 1, vendor: ITS}\n"
        "products:\n"
        "  - article: '4601546041807'\n"
        "    name: Accounting PROF\n"
        "    edition: PROF\n"
        "    configurations: [Accounting]\n"
        "    pin_envelope: true\n"
        "    its_required: false\n"
    )
    assert load_catalogue(tmp_path / "c.json") == load_catalogue(tmp_path / "c.yml")


def test_the_product_body_leaves_its_required_to_the_service_unless_given() -> None:
    catalogue = parse_catalogue({"products": [product(), product(article="4601546041791", its_required=True)]})
    assert catalogue.products[0].body() == {
        "name": "Accounting PROF",
        "edition": "PROF",
        "configurations": ["Accounting"],
        "pin_envelope": True,
    }
    assert catalogue.products[1].body()["its_required"] is True


def test_an_unquoted_article_is_read_as_text() -> None:
    catalogue = parse_catalogue({"products": [product(article=4601546041807)]})
    assert catalogue.products[0].article == "4601546041807"


def test_a_bad_article_names_the_entry() -> None:
    message = problems({"products": [product(), product(article="4601546041806", name="Trade PROF")]})
    assert "products[1] (4601546041806 'Trade PROF'): article: not an EAN-13 code" in message
    assert "products[0]" not in message


def test_an_article_that_lost_its_leading_zero_says_to_quote_it() -> None:
    assert "quote it" in problems({"products": [product(article=123456789012)]})


def test_every_bad_field_is_reported_at_once() -> None:
    message = problems(
        {
            "configurations": [
                configuration(maintenance_category=3),
                configuration(code="1st", name=""),
                configuration(code="Trade", colour="red"),
            ],
            "products": [product(edition="PRO", configurations=[]), "a string"],
        }
    )
    assert "configurations[0] (Accounting 'Accounting'): maintenance_category: Input should be 1 or 2" in message
    assert "configurations[1] (1st ''): code: a letter, then letters" in message
    assert "configurations[1] (1st ''): name:" in message
    assert "configurations[2] (Trade 'Accounting'): colour: unknown field" in message
    assert "products[0] (4601546041807 'Accounting PROF'): edition:" in message
    assert "products[0] (4601546041807 'Accounting PROF'): configurations:" in message
    assert "products[1] ('a string'): expected a mapping of fields" in message


def test_a_missing_field_is_named() -> None:
    entry = product()
    del entry["pin_envelope"]
    assert "products[0] (4601546041807 'Accounting PROF'): pin_envelope: missing" in problems({"products": [entry]})


def test_duplicates_are_refused() -> None:
    message = problems(
        {
            "configurations": [configuration(), configuration(name="Again")],
            "products": [product(), product(name="Again", configurations=["Accounting", "Accounting"])],
        }
    )
    assert "configurations[1]: code Accounting is also configurations[0]" in message
    assert "products[1]: article 4601546041807 is also products[0]" in message
    assert "products[1] (4601546041807 'Again'): configurations: a code is listed twice" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (["a list"], "expected a mapping"),
        ({}, "no configurations and no products"),
        ({"configurations": [], "products": [], "extra": 1}, "extra: unknown field"),
        ({"configurations": {"code": "Accounting"}}, "configurations: Input should be a valid list"),
    ],
)
def test_the_file_as_a_whole_is_checked(data: Any, expected: str) -> None:
    assert expected in problems(data)


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("configurations: [\n")
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "catalogue.txt").write_text("{}")
    for name, expected in [
        ("broken.yaml", "is not valid YAML"),
        ("broken.json", "is not valid JSON"),
        ("catalogue.txt", "expected a .yaml, .yml or .json file"),
        ("missing.yaml", "cannot read"),
    ]:
        with pytest.raises(CatalogueError, match=expected):
            load_catalogue(tmp_path / name)


def test_error_answers_read_as_one_line_per_problem() -> None:
    problem = {
        "title": "The request has invalid fields",
        "status": 422,
        "errors": [{"field": "configurations", "message": "not in the catalogue: Nope"}],
    }
    assert (
        describe_error(422, problem) == "The request has invalid fields\n  - configurations: not in the catalogue: Nope"
    )
    assert describe_error(403, {"title": "Not allowed", "detail": "needs operator"}) == "Not allowed: needs operator"
    oauth = {"error": "invalid_grant", "error_description": "the login or password is wrong"}
    assert describe_error(400, oauth) == "the login or password is wrong (invalid_grant)"
    assert describe_error(502, "") == "HTTP 502"
