"""docs/rules.md stays true to the code: every rule once, every file and name it points to defined, every
rule id the code and tests cite described. Pure and fast: it reads files and parses them with `ast`."""

from __future__ import annotations

import ast
import re
from collections import Counter
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "rules.md"
CITING = ("services", "rules", "shared", "tests", "itsctl", "devtools", "clients")

HEADING = re.compile(r"^### ([A-Z]{2,4}-[0-9]+)\b", re.MULTILINE)
# `path/to/file.py::Name`, `…::Class.method` or a pytest node id `…::Class::test`
REFERENCE = re.compile(r"`([\w./-]+\.py)::([\w.:]+)`")
NOT_BUILT = "Not built yet"


def sections() -> dict[str, str]:
    """Each rule's text, from its heading to the next heading."""
    text = RULES.read_text(encoding="utf-8")
    marks = list(re.finditer(r"^#{2,3} .*$", text, re.MULTILINE))
    found: dict[str, str] = {}
    for here, after in zip(marks, [*marks[1:], None], strict=True):
        heading = HEADING.match(here.group(0))
        if heading:
            found[heading.group(1)] = text[here.end() : after.start() if after else len(text)]
    return found


@cache
def names_in(path: Path) -> dict[str, set[str]]:
    """Top-level names of a module (defs, classes, assigned names) and, per class, the names in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {"": set()}
    for node in tree.body:
        for name in _defined(node):
            found[""].add(name)
        if isinstance(node, ast.ClassDef):
            found[node.name] = {name for child in node.body for name in _defined(child)}
    return found


def _defined(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def problem_with(file: str, name: str) -> str | None:
    path = ROOT / file
    if not path.is_file():
        return f"{file} does not exist"
    parts = name.replace("::", ".").split(".")
    names = names_in(path)
    if parts[0] not in names[""]:
        return f"{file} defines no {parts[0]}"
    if len(parts) == 2 and parts[1] not in names.get(parts[0], set()):
        return f"{parts[0]} in {file} defines no {parts[1]}"
    if len(parts) > 2:
        return f"{name}: at most Class.member"
    return None


def test_every_rule_has_one_heading() -> None:
    ids = HEADING.findall(RULES.read_text(encoding="utf-8"))
    assert ids, "docs/rules.md has no rule headings (### ID …)"
    repeated = sorted(rule for rule, count in Counter(ids).items() if count > 1)
    assert not repeated, f"rules with more than one heading: {repeated}"


def test_every_reference_names_a_file_and_a_definition_in_it() -> None:
    problems = [
        f"{rule}: `{file}::{name}`: {problem}"
        for rule, text in sections().items()
        for file, name in REFERENCE.findall(text)
        if (problem := problem_with(file, name))
    ]
    assert not problems, "docs/rules.md points to what is not there:\n" + "\n".join(problems)


def test_every_rule_has_its_code_and_tests_or_says_it_is_not_built() -> None:
    problems = []
    for rule, text in sections().items():
        references = REFERENCE.findall(text)
        code = [f for f, _ in references if not f.startswith("tests/")]
        tests = [f for f, _ in references if f.startswith("tests/")]
        if NOT_BUILT in text:
            if references:
                problems.append(f"{rule}: says it is not built yet, yet names code or tests")
        elif not code or not tests:
            problems.append(f"{rule}: needs a `Code:` and a `Tests:` reference, or '{NOT_BUILT}'")
    assert not problems, "\n".join(problems)


def test_every_rule_the_code_cites_is_described() -> None:
    described = set(sections())
    prefixes = sorted({rule.split("-")[0] for rule in described})
    cited = re.compile(rf"\b(?:{'|'.join(prefixes)})-[1-9][0-9]?\b")
    undescribed: dict[str, str] = {}
    for top in CITING:
        for path in sorted((ROOT / top).rglob("*.py")):
            for rule in set(cited.findall(path.read_text(encoding="utf-8"))) - described:
                undescribed.setdefault(rule, str(path.relative_to(ROOT)))
    assert not undescribed, f"rule ids cited but not in docs/rules.md (first file citing each): {undescribed}"


def test_no_doc_points_outside_the_repository() -> None:
    outside = [
        str(path.relative_to(ROOT))
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        if "../shared/" in path.read_text(encoding="utf-8")
    ]
    assert not outside, f"these point to ../shared/, which is not part of the repository: {outside}"
