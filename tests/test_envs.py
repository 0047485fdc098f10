"""Every rule's conda env (envs/*.yaml) lists what its script imports, pinned as in
pyproject.toml.

What a rule needs is read from the code, not from a list kept by hand:

- the rules, their ``conda:`` env and ``script:`` come from Snakemake's own parse of the
  workflow (in a subprocess: the API changes the working directory);
- the modules a script imports, and the distributions they need, come from the
  import-graph analyser ``tools/import_graph.py`` (its docstring says how it follows lazy,
  keyword-gated and dynamic imports; ``tests/test_import_graph.py`` tests it on a planted
  package): a third-party module is mapped to its distribution with the installed
  metadata, and a distribution needs every pyproject-pinned distribution it requires,
  transitively (sbi needs torch, scikit-learn and matplotlib: an env that left them out
  would get whatever version the solver picks), plus the one requirement sbi does not
  declare (six).

The ``mfnpe`` package itself is no dependency: Snakemake puts the script's folder on
``sys.path``. The checks return their problems as lists, and
``test_the_checks_catch_broken_envs`` feeds them broken envs, so they are known to fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import import_graph
import pytest
import yaml
from import_graph import ImportGraph, normalize
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "envs"

# conda-forge names that differ from the distribution's name.
CONDA_TO_DIST = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
# Env entries that are no distribution of the code: the interpreter (checked against
# requires-python) and the installer of the pip section (unpinned, like conda's own).
NOT_DISTRIBUTIONS = {"python", "pip"}

GRAPH = ImportGraph()  # mfnpe in scripts/, with its keyword-gated imports
import_closure = GRAPH.closure


@cache
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@cache
def pyproject_pins() -> dict[str, str]:
    """``{distribution: version}`` of pyproject's dependencies (each must be ``==``)."""
    return import_graph.pyproject_pins(ROOT / "pyproject.toml")


def needed_distributions(closure: import_graph.Closure) -> dict[str, str]:
    """``{distribution: why}``: the distributions of the imported modules and every
    pyproject-pinned distribution they need."""
    return import_graph.needed_distributions(closure, pyproject_pins())


# --------------------------------------------------------------------------- env files

@dataclass(frozen=True)
class Entry:
    name: str  # distribution name (conda names translated)
    version: str | None  # the pinned version, None when unpinned
    source: str  # "conda" or "pip"
    text: str


CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(?:(==?)\s*([^=\s*]+)(?:=\S+)?)?$")


def env_entries(env: Mapping) -> list[Entry]:
    """The packages of a conda env file's ``dependencies`` (pip options skipped)."""
    entries = []
    for item in env.get("dependencies") or []:
        if isinstance(item, Mapping):
            for line in item.get("pip") or []:
                if line.strip().startswith("-"):
                    continue  # --extra-index-url and friends
                req = Requirement(line)
                specs = list(req.specifier)
                pinned = (len(specs) == 1 and specs[0].operator == "=="
                          and "*" not in specs[0].version)
                entries.append(Entry(normalize(req.name), specs[0].version if pinned else None,
                                     "pip", line))
            continue
        match = CONDA_SPEC.match(str(item).strip())
        if match is None:
            entries.append(Entry(str(item), None, "conda", str(item)))
            continue
        name = normalize(match.group(1))
        entries.append(Entry(CONDA_TO_DIST.get(name, name), match.group(3), "conda", str(item)))
    return entries


def missing_distributions(entries: Iterable[Entry], needed: Mapping[str, str]) -> list[str]:
    listed = {e.name for e in entries}
    return [f"{dist} ({why})" for dist, why in sorted(needed.items()) if dist not in listed]


def unneeded_entries(entries: Iterable[Entry], needed: Mapping[str, str]) -> list[str]:
    return [e.text for e in entries if e.name not in NOT_DISTRIBUTIONS and e.name not in needed]


def pin_problems(entries: Iterable[Entry]) -> list[str]:
    """Entries without a pin, pinned otherwise than pyproject, or unknown to it."""
    entries = list(entries)
    pins, problems = pyproject_pins(), []
    names = [e.name for e in entries]
    problems += [f"{n} listed twice" for n in sorted(set(names)) if names.count(n) > 1]
    for e in entries:
        if e.name == "pip":
            continue
        if e.version is None:
            problems.append(f"{e.text!r} is not pinned")
        elif e.name == "python":
            allowed = SpecifierSet(pyproject()["project"]["requires-python"])
            if not allowed.contains(e.version):
                problems.append(f"{e.text!r}: pyproject requires python {allowed}")
        elif e.name not in pins:
            problems.append(f"{e.text!r} is not pinned in pyproject.toml")
        elif e.version != pins[e.name]:
            problems.append(f"{e.text!r}: pyproject.toml pins {e.name}=={pins[e.name]}")
    if "python" not in names:
        problems.append("python is not listed")
    if any(e.source == "pip" for e in entries) and "pip" not in names:
        problems.append("a pip section without pip listed")
    return problems


def companion_problems(entries: Iterable[Entry]) -> list[str]:
    """sbi comes with torch and six; torch from one installer in every env (pip, the CPU
    wheel, as the Makefile installs it)."""
    by_name = {e.name: e for e in entries}
    problems = []
    if "sbi" in by_name:
        problems += [f"sbi without {dep}" for dep in ("torch", "six") if dep not in by_name]
    if "torch" in by_name and by_name["torch"].source != "pip":
        problems.append(f"{by_name['torch'].text!r}: torch comes from pip in every env")
    return problems


# --------------------------------------------------------------------------- the workflow

RULES_PROGRAM = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings

    root, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    settings = OutputSettings(enable_file_logging=False, quiet={Quietness.ALL})
    with SnakemakeApi(settings) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[root / "config" / "config.yaml"]),
            snakefile=root / "workflow" / "Snakefile", workdir=workdir)
        rules = {
            rule.name: dict(
                conda=str(Path(rule.basedir, rule.conda_env)) if rule.conda_env else None,
                script=str(Path(rule.basedir, rule.script)) if rule.script else None)
            for rule in workflow._workflow.rules
        }
    print("RULES " + json.dumps(rules))
""")


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> dict[str, dict]:
    """``{rule: {"conda": path, "script": path}}`` from Snakemake's parse of the workflow."""
    workdir = tmp_path_factory.mktemp("parse")
    (workdir / "resources" / "observations").mkdir(parents=True)  # observations.dir exists
    run = subprocess.run([sys.executable, "-c", RULES_PROGRAM, str(ROOT), str(workdir)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(line for line in run.stdout.splitlines() if line.startswith("RULES "))
    return {name: {k: v and Path(v).resolve() for k, v in rule.items()}
            for name, rule in json.loads(line[len("RULES "):]).items()}


@pytest.fixture(scope="module")
def needs(rules) -> dict[Path, dict[str, dict[str, str]]]:
    """``{env file: {rule: {distribution: why}}}``."""
    result: dict[Path, dict] = {}
    for name, rule in rules.items():
        if rule["script"] is not None:
            closure = import_closure(rule["script"])
            result.setdefault(rule["conda"], {})[name] = needed_distributions(closure)
    return result


def load_env(path: Path) -> list[Entry]:
    return env_entries(yaml.safe_load(path.read_text()))


def merged(per_rule: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    out = {}
    for rule, needed in sorted(per_rule.items()):
        for dist, why in needed.items():
            out.setdefault(dist, f"rule {rule}: {why}")
    return out


ENV_FILES = sorted(ENVS.glob("*.yaml"))


@pytest.mark.workflow
def test_every_rule_runs_a_script_in_one_of_the_env_files(rules):
    envs = {path.resolve() for path in ENV_FILES}
    for name, rule in rules.items():
        if name == "all":
            assert rule == {"conda": None, "script": None}
            continue
        assert rule["script"] is not None and rule["script"].is_file(), (name, rule)
        assert rule["conda"] in envs, f"rule {name}: conda env {rule['conda']} is not in envs/"
    used = {rule["conda"] for rule in rules.values()}
    assert envs <= used, f"env files no rule uses: {sorted(envs - used)}"


@pytest.mark.workflow
@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_lists_every_distribution_its_rules_import(env, needs):
    missing = missing_distributions(load_env(env), merged(needs[env.resolve()]))
    assert not missing, f"{env.name} lacks: " + "; ".join(missing)


@pytest.mark.workflow
@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_lists_nothing_its_rules_do_not_need(env, needs):
    extra = unneeded_entries(load_env(env), merged(needs[env.resolve()]))
    assert not extra, f"{env.name}: no rule using it needs {extra}"


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_the_versions_of_pyproject(env):
    problems = pin_problems(load_env(env)) + companion_problems(load_env(env))
    assert not problems, f"{env.name}: " + "; ".join(problems)


def test_pyproject_pins_every_dependency():
    assert pyproject_pins()  # every entry pinned with == (asserted while reading)


@pytest.mark.workflow
def test_the_import_graph_follows_lazy_and_dynamic_imports(rules, needs):
    simulate = import_closure(rules["simulate"]["script"])
    # the registry's modules, loaded with importlib.import_module
    assert {"mfnpe.hh.markov", "mfnpe.hh.langevin", "mfnpe.simulation.simulators"} <= simulate.modules
    assert {"jax", "numba", "h5py", "numpy"} <= simulate.third_party.keys()
    # mfnpe.simulation.pools -> mfnpe.plan.runs -> mfnpe.plan.shards -> mfnpe.plan.config: yaml and jsonschema
    assert {"yaml", "jsonschema"} <= import_closure(rules["npe"]["script"]).third_party.keys()
    # limit_threads imports torch for torch=True only; start_jax (jax) only where called
    assert "torch" not in simulate.third_party
    assert "jax" not in import_closure(rules["evaluate"]["script"]).third_party
    # metrics.c2st imports sbi lazily; the figure rules never call it
    pairplot = import_closure(rules["figure_pairplot"]["script"])
    assert "mfnpe.evaluation.metrics" in pairplot.modules and "sbi" not in pairplot.third_party
    # sbi's dependencies pinned in pyproject, six included
    train = needs[ENVS.resolve() / "train.yaml"]["npe"]
    assert {"torch", "six", "scikit-learn", "matplotlib"} <= train.keys()
    assert "jaxlib" in needs[ENVS.resolve() / "simulate.yaml"]["simulate"]


def test_the_checks_catch_broken_envs(tmp_path):
    """Each check reports a broken env: a missing import, a changed or missing pin, an
    entry no rule needs, sbi without six, a lazy import that a script starts to use."""
    pins = pyproject_pins()

    def env(*conda, pip=()):
        text = yaml.safe_dump({"channels": ["conda-forge"], "dependencies": [
            "python=3.11", *conda, "pip", {"pip": ["--extra-index-url https://x", *pip]}]})
        return env_entries(yaml.safe_load(text))

    good = env(f"numpy={pins['numpy']}", f"h5py={pins['h5py']}",
               pip=[f"torch=={pins['torch']}", f"sbi=={pins['sbi']}", f"six=={pins['six']}"])
    needed = dict.fromkeys(["numpy", "h5py", "torch", "sbi", "six"], "x")
    assert not missing_distributions(good, needed) and not unneeded_entries(good, needed)
    assert not pin_problems(good) and not companion_problems(good)

    without_h5py = [e for e in good if e.name != "h5py"]
    assert missing_distributions(without_h5py, needed) == ["h5py (x)"]
    with_pandas = env(f"pandas={pins['pandas']}", f"numpy={pins['numpy']}")
    assert unneeded_entries(with_pandas, needed) == [f"pandas={pins['pandas']}"]

    broken = env("numpy=1.26.4", "h5py", "tqdm=4.67.1", "pytorch=" + pins["torch"],
                 "python=3.10", pip=["sbi>=0.27"])
    problems = pin_problems(broken) + companion_problems(broken)
    assert any("numpy=1.26.4" in p for p in problems), problems
    assert any("'h5py' is not pinned" in p for p in problems), problems
    assert any("tqdm" in p and "not pinned in pyproject" in p for p in problems), problems
    assert any("python=3.10" in p for p in problems), problems
    assert "python listed twice" in problems, problems
    assert "sbi without six" in problems and "'sbi>=0.27' is not pinned" in problems, problems
    assert any("torch comes from pip" in p for p in problems), problems

    # a script that starts to call metrics.c2st pulls in its lazy torch and sbi imports
    script = tmp_path / "uses_c2st.py"
    script.write_text("from mfnpe.evaluation import metrics\nprint(metrics.c2st)\n")
    assert {"torch", "sbi"} <= import_closure(script).third_party.keys()
    script = tmp_path / "torch_threads.py"
    script.write_text("from mfnpe.runtime import limit_threads\nlimit_threads(1, torch=True)\n")
    assert "torch" in import_closure(script).third_party
    script = tmp_path / "pandas_direct.py"
    script.write_text("import json\nimport pandas as pd\n")
    why = f"{script} imports pandas"
    assert needed_distributions(import_closure(script)) == {
        "pandas": why, "numpy": f"pandas requires it ({why})"}
