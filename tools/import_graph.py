"""What a Python script imports, followed through a package's own modules, and the
distributions it therefore needs: the import-graph analyser behind ``tests/test_envs.py``
(every rule's conda env lists what its script imports).

    python tools/import_graph.py scripts/simulate.py [more scripts]
    python tools/import_graph.py --source DIR --package NAME SCRIPT  # another package

prints, per script, the package's modules it loads, the third-party modules (each with
the file that imports it first) and the distributions they need (the installed
metadata; pyproject.toml's pinned distributions they require, transitively).

How imports are found, with ``ast`` (no code is run):

- module-level imports always; ``from pkg import sub`` imports the module ``pkg.sub``;
  relative imports are resolved against the importing module's package;
- imports inside a top-level function or class once a loaded file names it outside its
  own body (a lazy import is followed only where something the script loads uses it);
- imports of a keyword-gated function (``KEYWORD_GATED``) only where a loaded file calls
  it with that keyword ``True``;
- ``importlib.import_module`` from module names written as strings in the same file (the
  simulator registry).
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mfnpe"
SOURCE = ROOT / "scripts"  # the folder holding the mfnpe package

# Imports inside a function that run only when a keyword argument is true:
# mfnpe.runtime.limit_threads imports torch only for limit_threads(..., torch=True).
KEYWORD_GATED = {("mfnpe.runtime", "limit_threads"): "torch"}
# Requirements a distribution has without declaring them (sbi imports six in
# sbi.utils.plotting_helpers).
UNDECLARED = {"sbi": {"six"}}


@dataclass
class SourceFile:
    """What one Python file imports, and which names it uses, per context: ``None`` for
    module level, else the top-level function or class the statement sits in."""

    path: Path
    module: str | None  # dotted name for the package's modules, None for a script
    imports: dict[str | None, set[str]] = field(default_factory=dict)
    names: dict[str | None, set[str]] = field(default_factory=dict)
    true_keywords: dict[str, set[str]] = field(default_factory=dict)  # callee -> keywords=True
    strings: set[str] = field(default_factory=set)
    dynamic_import: bool = False


@dataclass
class Closure:
    """The package's modules a script loads and the third-party top-level modules they
    import (each with the file that imports it, for messages)."""

    modules: set[str]
    third_party: dict[str, str]


def _callee(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _stdlib(name: str) -> bool:
    return name in sys.stdlib_module_names or name == "__future__"


class ImportGraph:
    """The imports of scripts that use the package ``package`` found in folder ``source``
    (the folder on ``sys.path``, e.g. ``scripts/`` for ``scripts/mfnpe``)."""

    def __init__(self, source: Path = SOURCE, package: str = PACKAGE,
                 keyword_gated: Mapping[tuple[str, str], str] | None = None):
        self.source, self.package = Path(source), package
        self.keyword_gated = dict(KEYWORD_GATED if keyword_gated is None else keyword_gated)
        self._parsed: dict[tuple[Path, str | None], SourceFile] = {}

    def module_path(self, name: str) -> Path | None:
        """The file of the package's module ``name`` (a package's ``__init__.py``), or None."""
        base = self.source.joinpath(*name.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def _shown(self, path: Path) -> str:
        root = self.source.parent
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    def parse(self, path: Path, module: str | None) -> SourceFile:
        key = (path, module)
        if key not in self._parsed:
            self._parsed[key] = self._parse(path, module)
        return self._parsed[key]

    def _parse(self, path: Path, module: str | None) -> SourceFile:
        tree = ast.parse(path.read_text(), filename=str(path))
        info = SourceFile(path, module)
        package = None
        if module is not None:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]

        def absolute(node: ast.ImportFrom) -> str:
            if not node.level:
                return node.module or ""
            parts = package.split(".") if package else []
            base = ".".join(parts[: len(parts) - node.level + 1])
            return f"{base}.{node.module}" if node.module else base

        def visit(node: ast.AST, context: str | None) -> None:
            imported = info.imports.setdefault(context, set())
            names = info.names.setdefault(context, set())
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = absolute(node)
                imported.add(base)
                for alias in node.names:  # ``from mfnpe import plots`` imports mfnpe.plots
                    if (base.split(".")[0] == self.package
                            and self.module_path(f"{base}.{alias.name}")):
                        imported.add(f"{base}.{alias.name}")
                    names.add(alias.name)
            elif isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
                if node.attr == "import_module":
                    info.dynamic_import = True
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                info.strings.add(node.value)
            if isinstance(node, ast.Call) and _callee(node):
                info.true_keywords.setdefault(_callee(node), set()).update(
                    kw.arg for kw in node.keywords
                    if isinstance(kw.value, ast.Constant) and kw.value.value is True)
            for child in ast.iter_child_nodes(node):
                inner = context
                if context is None and isinstance(
                        child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    inner = child.name
                visit(child, inner)

        visit(tree, None)
        if info.dynamic_import:  # importlib.import_module("mfnpe.x") with the name in the file
            info.imports[None] |= {s for s in info.strings
                                   if s.split(".")[0] == self.package and self.module_path(s)}
        return info

    def closure(self, script: Path) -> Closure:
        """Follow imports from ``script`` through the package: module-level ones always,
        those inside a function or class once a loaded file names it (outside its own
        body), and those of a keyword-gated function once a loaded file calls it with that
        keyword true."""
        files = {None: self.parse(Path(script), None)}
        followed: set[tuple[str | None, str | None]] = set()  # (module, context) done
        third_party: dict[str, str] = {}

        def used(module: str | None, context: str) -> bool:
            gate = self.keyword_gated.get((module, context))
            for other_module, source in files.items():
                if gate is not None:
                    if gate in source.true_keywords.get(context, ()):
                        return True
                    continue
                for ctx, names in source.names.items():
                    if context in names and not (other_module == module and ctx == context):
                        return True
            return False

        changed = True
        while changed:
            changed = False
            for module, source in sorted(files.items(), key=lambda item: str(item[1].path)):
                for context, imported in sorted(source.imports.items(),
                                                key=lambda i: i[0] or ""):
                    if (module, context) in followed:
                        continue
                    if context is not None and not used(module, context):
                        continue
                    followed.add((module, context))
                    changed = True
                    for name in sorted(imported):
                        top = name.split(".")[0]
                        if top == self.package:
                            for parent in _with_parents(name):
                                path = self.module_path(parent)
                                if path is None:
                                    continue  # ``from mfnpe.x import function``
                                if parent not in files:
                                    files[parent] = self.parse(path, parent)
                        elif top and not _stdlib(top):
                            third_party.setdefault(top, self._shown(source.path))
        return Closure({m for m in files if m is not None}, third_party)


# --------------------------------------------------------------------------- distributions

def normalize(name: str) -> str:
    return canonicalize_name(name)


@cache
def module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distribution_of(module: str) -> str:
    """The one installed distribution that provides top-level module ``module``; a
    ``LookupError`` when none (or several) does."""
    found = sorted({normalize(d) for d in module_distributions().get(module, [])})
    if len(found) != 1:
        raise LookupError(f"module {module!r} maps to distributions {found}: is it installed?")
    return found[0]


@cache
def requirements(dist: str) -> frozenset[str]:
    """Every distribution ``dist`` needs at run time, transitively (installed metadata; extras
    not requested), plus the undeclared ones (``UNDECLARED``)."""
    seen, todo = set(), [dist]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += UNDECLARED.get(name, ())
        try:
            lines = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (a platform-specific dependency)
        for line in lines:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(normalize(req.name))
    return frozenset(seen - {dist})


def needed_distributions(closure: Closure, pinned: Iterable[str]) -> dict[str, str]:
    """``{distribution: why}``: the distributions of the imported modules and every
    distribution of ``pinned`` (normalized names) they need."""
    pinned = set(pinned)
    needed = {}
    for module, importer in sorted(closure.third_party.items()):
        dist = distribution_of(module)
        needed.setdefault(dist, f"{importer} imports {module}")
        for dep in sorted(requirements(dist) & pinned):
            needed.setdefault(dep, f"{dist} requires it ({importer} imports {module})")
    return needed


def pyproject_pins(path: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """``{distribution: version}`` of pyproject's dependencies (each must be ``==``)."""
    pins = {}
    for line in tomllib.loads(path.read_text())["project"]["dependencies"]:
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise ValueError(f"{path.name}: {line} is not pinned")
        pins[normalize(req.name)] = specs[0].version
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", nargs="+", type=Path, help="the scripts to analyse")
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help="the folder holding the package (default: scripts/)")
    parser.add_argument("--package", default=PACKAGE, help="the package's name (mfnpe)")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml",
                        help="whose pinned dependencies count as needed requirements")
    args = parser.parse_args(argv)
    graph = ImportGraph(args.source, args.package,
                        KEYWORD_GATED if args.package == PACKAGE else {})
    pins = pyproject_pins(args.pyproject)
    for script in args.scripts:
        closure = graph.closure(script)
        print(f"{script}:")
        print(f"  {args.package} modules: {', '.join(sorted(closure.modules)) or '-'}")
        for module, importer in sorted(closure.third_party.items()):
            print(f"  imports {module} ({importer})")
        for dist, why in sorted(needed_distributions(closure, pins).items()):
            print(f"  needs {dist}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
