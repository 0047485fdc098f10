"""Running the workflow from tests: paths and a Snakemake wrapper."""

import functools
import importlib.util
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mfnpe.plan.config import load_schema

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
SCHEMA_PATH = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG_SCHEMA = load_schema(SCHEMA_PATH)
"""The workflow's config schema, the file the rules validate against."""


@functools.cache
def config_check_tool():
    """The module tools/config_check.py (imported on first use: it imports numpy and
    Snakemake): ``merged_config(paths)`` is the config ``snakemake --configfile PATHS``
    runs with."""
    spec = importlib.util.spec_from_file_location("config_check", ROOT / "tools" / "config_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snakemake(workdir: Path, *args: str, configfile: Path | Sequence[Path] = TINY
              ) -> subprocess.CompletedProcess:
    """``snakemake -s workflow/Snakefile --configfile CONFIG... -d WORKDIR ARGS`` (output
    captured); several config files are merged in order, later ones overriding."""
    configfiles = [configfile] if isinstance(configfile, (str, Path)) else list(configfile)
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile",
         *map(str, configfiles), "-d", str(workdir), *args],
        capture_output=True, text=True, cwd=ROOT,
    )


def job_resources(output: str) -> dict[tuple[str, str], dict[str, str]]:
    """{(rule, wildcards): {resource: value}} of the jobs a dry run's ``output`` lists."""
    jobs, rule, wildcards = {}, None, ""
    for line in output.splitlines():
        if match := re.match(r"\s*(local)?rule (\w+):", line):
            rule, wildcards = match.group(2), ""
        elif match := re.match(r"\s*wildcards: (.*)", line):
            wildcards = match.group(1)
        elif (match := re.match(r"\s*resources: (.*)", line)) and rule:
            jobs[rule, wildcards] = dict(re.findall(r"(\w+)=([^,]+)", match.group(1)))
    return jobs


def scheduled_jobs(output: str) -> dict[str, int]:
    """{rule: count} from the 'Job stats' table of a dry run ({} when nothing to do)."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    jobs = {}
    for line in table.splitlines()[3:]:
        name, _, count = line.partition(" ")
        if name == "total":
            break
        jobs[name] = int(count)
    return jobs


TIMINGS = {"epoch_durations_sec"}
"""Keys of a model file's training history that hold wall-clock times, not results."""


def same_model(a: Path, b: Path) -> bool:
    """Whether two model files hold equal contents (every tensor bit-identical; the epochs'
    wall-clock durations aside)."""
    import torch

    def equal(x, y) -> bool:
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y)
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(
                equal(x[k], y[k]) for k in x if k not in TIMINGS)
        if isinstance(x, (list, tuple)):
            return type(x) is type(y) and len(x) == len(y) and all(map(equal, x, y))
        return x == y

    return equal(torch.load(a, weights_only=True), torch.load(b, weights_only=True))
