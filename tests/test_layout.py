"""The library's layout: every import goes down the layers (:data:`LAYERS`), stages import
each other without cycles, nothing reaches into workflow/, and the planning layer the
Snakefile imports stays free of numerics."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "scripts" / "mfnpe"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}

LAYERS = ("names", "seeds", "runtime", "io", "stimulus", "recordings", "hh", "prior",
          "simulation", "inference", "observation", "evaluation", "plots", "plan", "bench")
"""The library's layers, lowest first: ``mfnpe.<layer>`` (a package or a module) imports
only from its own layer and the ones before it. The one statement of the order (README.md,
"Where each stage lives", shows it; :func:`test_the_readme_shows_the_layer_order`)."""


def imported_modules(path: Path) -> set[str]:
    """mfnpe modules ``path`` imports anywhere (lazy imports inside functions included)."""
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """mfnpe modules the code ``source`` of ``module`` imports anywhere (lazy imports
    inside functions included)."""
    found = set()
    package = module if is_package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES} - {module}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_two_modules_import_each_other_in_a_circle():
    graph = {name: imported_modules(path) for name, path in MODULES.items()}
    # a package's __init__ re-exporting its modules is not a cycle with them
    graph = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def layer_of(module: str) -> str:
    """``"hh"`` for ``mfnpe.hh.markov``, ``"names"`` for ``mfnpe.names``."""
    return module.split(".")[1]


def loaded_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """What :func:`imports_in` finds, plus the mfnpe modules a string of the code names
    exactly (loaded with ``importlib.import_module``: the simulator registry)."""
    named = {s for s in code_strings(ast.parse(source)) if s in MODULES}
    return imports_in(source, module, is_package) | (named - {module})


def is_entry_point(module: str) -> bool:
    """A package's ``__main__`` (``python -m mfnpe.<package>``): run, never imported."""
    return module.endswith(".__main__")


def layer_graph() -> dict[str, set[str]]:
    """Every mfnpe module below the package itself -> the mfnpe modules it loads (``mfnpe``
    itself, which ``from mfnpe import seeds`` names and which holds only the version, is
    below every layer). Command-line entry points are left out
    (:func:`test_an_entry_point_only_starts_a_command`)."""
    return {name: loaded_modules(path.read_text(), name, path.name == "__init__.py") - {"mfnpe"}
            for name, path in MODULES.items() if name != "mfnpe" and not is_entry_point(name)}


def entry_point_faults(source: str) -> list[str]:
    """What keeps ``source`` from being a thin entry point: statements other than its
    docstring, imports and one ``sys.exit(main())``."""
    faults, calls = [], 0
    tree = ast.parse(source)
    for k, node in enumerate(tree.body):
        if k == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if ast.unparse(node) == "sys.exit(main())":
            calls += 1
            continue
        faults.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    if calls != 1:
        faults.append(f"{calls} sys.exit(main()) calls (one expected)")
    return faults


def test_an_entry_point_only_starts_a_command():
    """A package's ``__main__`` stands outside the layers: nothing imports it, so loading
    ``mfnpe.<package>`` never loads what it imports. It may therefore start the command of
    a higher layer (``python -m mfnpe.recordings`` runs ``mfnpe.observation.inspect``,
    which needs the passive card), and must do nothing else."""
    entry_points = [name for name in MODULES if is_entry_point(name)]
    assert entry_points, "no __main__ module: drop this exemption"
    for name in entry_points:
        assert entry_point_faults(MODULES[name].read_text()) == [], name
    importers = [f"{name} imports {dep}" for name, path in MODULES.items()
                 for dep in loaded_modules(path.read_text(), name, path.name == "__init__.py")
                 if is_entry_point(dep)]
    assert importers == []
    # the check finds code beside the call, and a missing call
    assert entry_point_faults('"""doc"""\nimport sys\nfrom m import main\nx = 1\n'
                              "sys.exit(main())\n") == ["line 4: x = 1"]
    assert entry_point_faults("import sys\n") == ["0 sys.exit(main()) calls (one expected)"]


def upward_imports(graph: dict[str, set[str]], layers: tuple[str, ...] = LAYERS) -> list[str]:
    """``"a imports b (low -> high)"`` for every import of ``graph`` from a module of a lower
    layer to one of a higher layer; a module of no layer is an error."""
    rank = {layer: k for k, layer in enumerate(layers)}
    found = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            low, high = layer_of(module), layer_of(dep)
            if rank[high] > rank[low]:
                found.append(f"{module} imports {dep} ({low} -> {high})")
    return found


def test_every_module_is_in_a_layer():
    layers = {layer_of(name) for name in MODULES if name != "mfnpe"}
    assert sorted(layers - set(LAYERS)) == []
    assert sorted(set(LAYERS) - layers) == []  # no layer left behind by a move
    assert len(set(LAYERS)) == len(LAYERS)


def test_every_import_goes_down_the_layers():
    assert upward_imports(layer_graph()) == []


def test_the_layer_check_finds_an_upward_import():
    assert upward_imports({"mfnpe.low.a": {"mfnpe.high.b", "mfnpe.low.c"},
                           "mfnpe.high.b": {"mfnpe.low.c"}, "mfnpe.low.c": set()},
                          ("low", "high")) == ["mfnpe.low.a imports mfnpe.high.b (low -> high)"]
    # planted in the real graph: a lazy import inside a function, a relative one and an
    # importlib name, each from a lower layer to a higher one
    graph = layer_graph()
    planted = ("def f():\n    from mfnpe.plan.runs import runs\n    return runs\n\n"
               "def g():\n    from ..observation import fit\n    return fit\n\n"
               "def h():\n    return importlib.import_module('mfnpe.plots.theme')\n")
    graph["mfnpe.io.hdf5"] |= loaded_modules(planted, "mfnpe.io.hdf5")
    assert upward_imports(graph) == [
        "mfnpe.io.hdf5 imports mfnpe.observation (io -> observation)",
        "mfnpe.io.hdf5 imports mfnpe.observation.fit (io -> observation)",
        "mfnpe.io.hdf5 imports mfnpe.plan.runs (io -> plan)",
        "mfnpe.io.hdf5 imports mfnpe.plots.theme (io -> plots)"]


def test_the_readme_shows_the_layer_order():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Where each stage lives", 1)[1].split("\n## ", 1)[0]
    stated = re.search(r"layers, lowest first.*?:\s*((?:`\w+`\s*→\s*)+`\w+`)\.", section, re.S)
    assert stated, "README.md, 'Where each stage lives', states no layer order"
    assert tuple(re.findall(r"`(\w+)`", stated.group(1))) == LAYERS


def code_strings(tree: ast.AST) -> list[str]:
    """String constants that are not docstrings (of modules, functions, classes or
    attributes: any string standing alone as a statement)."""
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_library_does_not_reach_into_the_workflow():
    offenders = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("workflow", "snakemake") for n in names):
                    offenders.append(f"{name} imports {names}")
        offenders += [f"{name}: {s!r}" for s in code_strings(tree)
                      if "workflow/" in s or "README" in s or "snakemake" in s.lower()]
    assert offenders == []


def test_the_planning_layer_imports_no_numerics():
    plan = [name for name in MODULES if name.startswith("mfnpe.plan.")] + ["mfnpe.names"]
    code = (f"import sys\nfor m in {plan!r}: __import__(m)\n"
            "print(sorted(m for m in ('numpy', 'torch', 'jax', 'numba', 'sbi', 'h5py') "
            "if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert run.stdout.strip() == "[]", run.stdout


def test_no_test_file_imports_another_test_file():
    """Helpers the test files share live in helper modules (``tests/hh_reference.py``,
    ``recording_files.py``, ``toy_task.py``, ``workflow_helpers.py``), not in a test file:
    importing one re-runs its module code and hides where a helper lives."""
    importers = {}
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0].startswith("test_") for name in names):
                importers.setdefault(path.name, []).extend(names)
    assert importers == {}
