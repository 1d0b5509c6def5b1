import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_modules_do_not_read_the_environment():
    offenders = []
    for path in (ROOT / "src" / "nl2sql").rglob("*.py"):
        if path.name in ("settings.py", "cli.py"):
            continue
        text = path.read_text()
        if "os.environ" in text or "os.getenv" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_module_reaches_into_another_packages_internals():
    """The front-door rule for every package of nl2sql, present and future: outside a package, only the
    package itself (its __init__) is imported, never one of its files (pyproject's contracts say the same for
    the packages that exist; this covers one added tomorrow)."""
    import grimp

    graph = grimp.build_graph("nl2sql", include_external_packages=False)
    packages = {m for m in graph.modules if m.count(".") == 1 and graph.find_children(m)
                and not m.startswith("nl2sql._")}
    assert {"nl2sql.catalog", "nl2sql.answers", "nl2sql.evaluation"} <= packages
    offenders = []
    for package in sorted(packages):
        for internal in sorted(graph.find_descendants(package)):
            for importer in sorted(graph.find_modules_that_directly_import(internal)):
                inside = importer == package or importer.startswith(package + ".")
                if not inside and not importer.startswith("nl2sql._resources."):  # migrations are frozen history
                    offenders.append(f"{importer} -> {internal}")
    assert offenders == []


def test_the_contracts_cover_every_top_level_module():
    """The layers contract is exhaustive and every package has its protected-internals contract, with no
    optional layer markers."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    assert layers["exhaustive"] is True and layers["containers"] == ["nl2sql"]
    assert not any("(" in layer for layer in layers["layers"])
    listed = {name.strip() for layer in layers["layers"] for name in layer.replace(":", "|").split("|")}
    on_disk = {p.stem if p.is_file() else p.name for p in (ROOT / "src" / "nl2sql").iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert on_disk <= listed, on_disk - listed
    protected = {c["protected_modules"][0] for c in config["contracts"] if c["type"] == "protected"}
    packages = {p.name for p in (ROOT / "src" / "nl2sql").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert protected == {f"nl2sql.{p}.*" for p in packages}
    assert any(c["type"] == "acyclic_siblings" for c in config["contracts"])


def test_long_files_say_why_they_are_one_file():
    """A file of src/ over ~500 lines says in its docstring why it is one file."""
    import ast

    unexplained = []
    for path in (ROOT / "src" / "nl2sql").rglob("*.py"):
        text = path.read_text()
        if len(text.splitlines()) > 550 and "One file" not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    assert unexplained == []


def test_the_composition_root_and_the_services_read_a_screen_at_a_time():
    """No function over ~60 lines in app.py, services.py or the services' classes (and the parts mixed into them)."""
    import ast

    parts = ("CatalogCore", "Syncer", "TrustChecks", "ModelGenerators", "Gateway", "Retriever")
    long = []
    for path in (ROOT / "src" / "nl2sql").rglob("*.py"):
        tree = ast.parse(path.read_text())
        scopes = [tree] if path.name in ("app.py", "services.py") else [
            c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
            and (c.name.endswith(("Service", "Part")) or c.name in parts)]
        for scope in scopes:
            for node in ast.walk(scope):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > 70:  # about a screen
                        long.append(f"{path.relative_to(ROOT)}:{node.name} ({length} lines)")
    assert long == []
