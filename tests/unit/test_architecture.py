"""The package map of docs/architecture.md, enforced: which package may import which, no import
cycles, one settings module for the environment, one home for error classes, and a README
configuration table that lists every setting."""

from __future__ import annotations

import ast
import importlib
import re
from collections import defaultdict

import pytest

from local.template import REPO_ROOT
from payments.platform.settings import Settings

PACKAGE = REPO_ROOT / "shared" / "payments"

#: Each package and what it may import (besides itself). Mirrors docs/architecture.md.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "platform": {"core"},
    "store": {"core", "platform"},
    "kyc": {"core", "platform", "store", "audit"},
    "guards": {"core", "platform", "store", "audit"},
    "audit": {"core", "platform", "store"},
    "ledger": {"core", "platform", "store", "kyc", "audit"},
    "gateways": {"core", "platform", "store"},
    "flows": {"core", "platform", "store", "kyc", "guards", "ledger", "gateways", "audit"},
    "http": {"core", "platform", "store", "kyc", "guards", "ledger", "gateways", "flows", "audit"},
    "events": {"core", "platform", "ledger"},
}
#: Third-party packages the pure core must never load (cold start, and testability without AWS).
CORE_FORBIDDEN = ("boto3", "botocore", "pynamodb", "pydantic", "aws_lambda_powertools", "razorpay", "stripe")
#: Exceptions that never reach a client: signals between layers, matched by type or by name.
INTERNAL_SIGNALS = {
    "GatewayUnavailable",
    "GatewayRejected",
    "SignatureInvalid",
    "WalletRefused",
    "TransientGatewayError",
    "PayoutRejectedError",
    "OrderNotAttached",
    "IndefiniteAnswer",
    "RefusedBeforeSending",
}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


MODULES = _modules()


def _imports(tree: ast.Module, top_level_only: bool = False) -> list[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def test_every_package_of_the_map_exists_and_nothing_lives_outside_it() -> None:
    packages = {_package(name) for name in MODULES} - {None}
    assert packages == set(ALLOWED)
    loose = [name for name in MODULES if name != "payments" and _package(name) is None]
    assert loose == [], "modules outside the package map"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_one_way(module: str) -> None:
    """Handlers -> http -> flows -> ledger/kyc/guards/gateways -> store -> platform -> core."""
    own = _package(module)
    if own is None:
        return
    wrong = sorted(
        {
            name
            for name in _imports(MODULES[module])
            if name.startswith("payments.")
            and (other := _package(name)) is not None
            and other != own
            and other not in ALLOWED[own]
        }
    )
    assert wrong == [], f"{module} ({own}) may import only {sorted(ALLOWED[own])}"


def test_core_loads_no_aws_or_framework_code() -> None:
    for name, tree in MODULES.items():
        if _package(name) == "core":
            loaded = [imported for imported in _imports(tree) if imported.split(".")[0] in CORE_FORBIDDEN]
            assert loaded == [], f"{name} imports {loaded}"


def test_no_import_cycles_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, tree in MODULES.items():
        for imported in _imports(tree, top_level_only=True):
            if imported in MODULES and imported != name:
                graph[name].add(imported)
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError(f"import cycle: {' -> '.join([*path, node, nxt])}")
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in sorted(MODULES):
        if node not in state:
            visit(node, [])


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = []
    for name, tree in MODULES.items():
        if name == "payments.platform.settings":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
                readers.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                readers += [f"{name}:{node.lineno}" for alias in node.names if alias.name in ("environ", "getenv")]
    assert readers == [], "declare the variable in payments.platform.settings and read it there"


def test_a_name_that_is_not_declared_cannot_be_read() -> None:
    with pytest.raises(KeyError, match="not declared"):
        Settings.named("SOME_UNDECLARED_VARIABLE")


def test_every_declared_setting_has_a_default_type_and_meaning() -> None:
    for name, declared in Settings.declared().items():
        assert declared.meaning, name
        declared.parse(declared.default)  # the default itself parses


def test_the_readme_configuration_table_lists_every_setting() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    missing = sorted(set(Settings.declared()) - documented)
    assert missing == [], "add these to the README's configuration table"


def test_every_error_class_lives_in_an_errors_module() -> None:
    """One rule for errors: each package's ``errors.py`` (the base classes in ``core/errors.py``);
    client-facing errors subclass PaymentError, internal signals are listed above."""
    from payments.core.errors import PaymentError

    misplaced, unrooted = [], []
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, BaseException)):
                continue
            if not value.__module__.startswith("payments."):
                continue
            if value.__module__ == name and not name.endswith(".errors"):
                misplaced.append(f"{name}.{value.__name__}")
            if not issubclass(value, PaymentError) and value.__name__ not in INTERNAL_SIGNALS:
                unrooted.append(f"{value.__module__}.{value.__name__}")
    assert misplaced == [], "error classes belong in their package's errors.py"
    assert sorted(set(unrooted)) == [], "client-facing errors subclass payments.core.errors.PaymentError"


def test_nothing_raises_the_base_error_itself() -> None:
    """A bare ``PaymentError`` answers code PAY_000, which no client and no document knows: every
    refusal raises the class of its code (found by the suite-wide OpenAPI check)."""
    bare = []
    for path in [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                called = node.exc.func
                if isinstance(called, ast.Name) and called.id == "PaymentError":
                    bare.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert bare == []


def test_the_rule_table_of_docs_architecture_names_real_places() -> None:
    """Each ``path.py`` ``name`` in "where does this rule live" exists, so the table moves with the code."""
    table = (REPO_ROOT / "docs" / "architecture.md").read_text().split("## Where does this rule live?", 1)[1]
    places = re.findall(r"`([a-z_/]+\.(?:py|json))`(?: `([A-Za-z_]+)`)?", table)
    assert len(places) >= 12
    for path, name in places:
        candidates = [PACKAGE / path, REPO_ROOT / path]
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        assert found is not None, f"{path} does not exist"
        if name:
            assert re.search(rf"^\s*(def|class) {name}\b", found.read_text(), re.M), f"{name} not in {path}"
