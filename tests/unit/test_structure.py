"""The layout's promises, checked on the source (docs/architecture.md, "Where code lives").

- Services are independent: none imports another, nor the CLI or the dev tools; the CLI and the dev tools reach a
  service only through its `public.py`.
- The kernel (`shared/`) is infrastructure: it imports no service; `rules/` is pure and imports only the standard
  library and itself.
- No import loops between modules, counting imports inside functions and for type checking.
- A file holds one idea: no product file over 500 lines.
- Application keys are declared in `shared/keys.py` and each service's `keys.py` only.
- HTTP handlers parse, call a use case and answer: a service's handler module opens no connection or transaction,
  writes no outbox and calls no store.
- The client package (clients/python, installed on customers' machines) imports nothing of the repository: the
  standard library, its own modules and its declared dependencies only; one idea a file there too.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("shared", "rules", "services", "itsctl", "devtools")
MAX_LINES = 500


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports, wherever the import stands (inside functions and `if TYPE_CHECKING` too):
    `from a.b import c` imports `a.b.c` where that is a module, else `a.b`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield submodule if submodule in modules() else node.module


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def _forbidden(importer: str, imported: str) -> str | None:
    top, target = importer.split(".")[0], imported.split(".")[0]
    mine, theirs = _service(importer), _service(imported)
    if mine and theirs and mine != theirs:
        return "a service imports another service"
    if top == "services" and target in ("itsctl", "devtools", "bench", "tests"):
        return "a service imports a tool"
    if top == "shared" and target in ("services", "itsctl", "devtools"):
        return "the kernel imports a service or a tool"
    if top == "rules" and target in ("shared", "services", "itsctl", "devtools"):
        return "a rule module imports beyond the standard library"
    if top in ("itsctl", "devtools") and theirs and imported.split(".")[2:3] != ["public"]:
        return f"a tool reaches into a service's internals (use services.{theirs}.public)"
    return None


def test_services_the_kernel_and_the_tools_keep_their_boundaries() -> None:
    crossings = sorted(
        f"{importer} imports {imported}: {why}"
        for importer, path in modules().items()
        for imported in set(imports(path))
        if imported.split(".")[0] in (*PRODUCT, "bench", "tests") and (why := _forbidden(importer, imported))
    )
    assert crossings == []


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_loop() -> None:
    known = modules()
    graph = {name: {m for m in imports(path) if m in known and m != name} for name, path in known.items()}
    assert _loops(graph) == []


def test_no_product_file_holds_more_than_one_idea_by_size() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules().values()
        if "migrations" not in path.parts and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


# A handler module holds no work of a use case: no connection, no transaction, no outbox, no store call.
_USE_CASE_WORK = re.compile(r"\.acquire\(|\.transaction\(|\boutbox\.add\(|\b\w*store\.[a-z_]+\(")


def test_handlers_parse_call_a_use_case_and_answer() -> None:
    handler_modules = [
        path
        for path in (ROOT / "services").glob("*/*.py")
        if path.name == "api.py" or path.name.endswith("_api.py") or path.name == "delivery.py"
    ]
    assert handler_modules
    doing_work = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in handler_modules
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _USE_CASE_WORK.search(line)
    ]
    assert doing_work == []


def test_application_keys_are_declared_in_the_keys_modules_only() -> None:
    """The kernel's in shared/keys.py, each service's in its own keys.py: one place to find what an app holds."""
    elsewhere = sorted(
        str(path.relative_to(ROOT))
        for path in modules().values()
        if path.name != "keys.py" and re.search(r"\bweb\.(AppKey|RequestKey)\(", path.read_text(encoding="utf-8"))
    )
    assert elsewhere == []


CLIENT = ROOT / "clients" / "python" / "src" / "its_client"
# clients/python/pyproject.toml's dependencies, by the names they are imported as.
CLIENT_DEPENDENCIES = {"aiohttp", "typer", "rich", "tuf", "securesystemslib"}


def test_the_client_package_stands_alone() -> None:
    files = sorted(CLIENT.rglob("*.py"))
    assert files
    foreign = sorted(
        f"{path.relative_to(ROOT)} imports {imported}"
        for path in files
        for imported in set(imports(path))
        if (top := imported.split(".")[0]) != "its_client"
        and top not in sys.stdlib_module_names
        and top not in CLIENT_DEPENDENCIES
    )
    assert foreign == []
    long = {str(p.relative_to(ROOT)) for p in files if len(p.read_text(encoding="utf-8").splitlines()) > MAX_LINES}
    assert long == set()
