"""The import-graph analyser (tools/import_graph.py) on a planted package whose imports
are known: module-level, relative, lazy (inside a function, followed only where it is
used), keyword-gated and dynamic (``importlib.import_module``) ones, and a dependency
that is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from import_graph import ImportGraph, needed_distributions

ROOT = Path(__file__).resolve().parents[1]

PLANTED = {
    "pkg/__init__.py": "",
    "pkg/core.py": """
        import json
        import numpy as np
        from . import helpers
        from .helpers import load


        def lazy():
            import yaml
            return yaml


        def never_called():
            import scipy
            return scipy
        """,
    "pkg/helpers.py": """
        import importlib

        PLUGINS = ("pkg.plugins.store",)


        def load(name):
            return importlib.import_module(name)
        """,
    "pkg/plugins/__init__.py": "",
    "pkg/plugins/store.py": "import h5py\n",
    "pkg/threads.py": """
        def limit(n, torch=False):
            if torch:
                import torch
                torch.set_num_threads(n)
        """,
    "pkg/unused.py": "import pandas\n",
}


@pytest.fixture
def planted(tmp_path) -> Path:
    """The folder holding the planted package ``pkg`` (``repo/src``; the scripts lie outside
    ``repo``, so messages name them by their full path)."""
    source = tmp_path / "repo" / "src"
    for name, text in PLANTED.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return source


def script(folder: Path, text: str) -> Path:
    path = folder / "script.py"
    path.write_text(textwrap.dedent(text))
    return path


def graph(planted: Path) -> ImportGraph:
    return ImportGraph(planted, "pkg", keyword_gated={("pkg.threads", "limit"): "torch"})


def test_module_level_relative_and_dynamic_imports_are_followed(planted, tmp_path):
    closure = graph(planted).closure(script(tmp_path, "import pkg.core\n"))
    # pkg.core imports helpers relatively; helpers loads the plugin by name
    assert closure.modules == {"pkg", "pkg.core", "pkg.helpers", "pkg.plugins",
                               "pkg.plugins.store"}
    assert closure.third_party == {"numpy": "src/pkg/core.py",
                                   "h5py": "src/pkg/plugins/store.py"}
    # json and importlib are the standard library; unused.py is never imported


def test_a_lazy_import_is_followed_where_its_function_is_used(planted, tmp_path):
    unused = graph(planted).closure(script(tmp_path, "import pkg.core\n"))
    assert "yaml" not in unused.third_party and "scipy" not in unused.third_party
    used = graph(planted).closure(script(tmp_path, "from pkg.core import lazy\nlazy()\n"))
    assert used.third_party["yaml"] == "src/pkg/core.py"
    assert "scipy" not in used.third_party  # never_called is named nowhere else


def test_a_keyword_gated_import_is_followed_only_with_the_keyword_true(planted, tmp_path):
    without = graph(planted).closure(script(tmp_path, """
        from pkg.threads import limit
        limit(1)
        limit(2, torch=False)
        """))
    assert "torch" not in without.third_party
    with_torch = graph(planted).closure(script(tmp_path, """
        from pkg import threads
        threads.limit(1, torch=True)
        """))
    assert with_torch.third_party["torch"] == "src/pkg/threads.py"
    # without the gate, naming the function is enough
    ungated = ImportGraph(planted, "pkg", keyword_gated={}).closure(
        script(tmp_path, "from pkg.threads import limit\nlimit(1)\n"))
    assert "torch" in ungated.third_party


def test_distributions_follow_the_pinned_requirements(planted, tmp_path):
    closure = graph(planted).closure(script(tmp_path, "import pandas\nimport yaml\n"))
    why = f"{tmp_path / 'script.py'} imports pandas"
    needed = needed_distributions(closure, pinned={"numpy", "pyyaml"})
    assert needed == {"pandas": why, "numpy": f"pandas requires it ({why})",
                      "pyyaml": f"{tmp_path / 'script.py'} imports yaml"}
    # a requirement outside the pinned set is not reported
    assert "numpy" not in needed_distributions(closure, pinned={"pyyaml"})


def test_a_planted_dependency_that_is_not_installed_is_named(planted, tmp_path):
    (planted / "pkg" / "extra.py").write_text(
        "def fit():\n    import mfnpe_planted_missing_dependency\n")
    closure = graph(planted).closure(script(tmp_path, "from pkg.extra import fit\nfit()\n"))
    assert closure.third_party == {"mfnpe_planted_missing_dependency": "src/pkg/extra.py"}
    with pytest.raises(LookupError, match="mfnpe_planted_missing_dependency.*installed"):
        needed_distributions(closure, pinned=())


def test_the_command_prints_modules_imports_and_distributions(planted, tmp_path):
    path = script(tmp_path, "from pkg.core import lazy\nlazy()\n")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "import_graph.py"), "--source",
                          str(planted), "--package", "pkg", str(path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"{path}:"
    assert "  pkg modules: pkg, pkg.core, pkg.helpers, pkg.plugins, pkg.plugins.store" in lines
    assert "  imports yaml (src/pkg/core.py)" in lines
    assert "  needs pyyaml: src/pkg/core.py imports yaml" in lines
    assert "  needs h5py: src/pkg/plugins/store.py imports h5py" in lines
