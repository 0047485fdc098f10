"""Running the workflow from tests: paths and a Snakemake wrapper."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
TINY = ROOT / "tests" / "configs" / "tiny.yaml"


def snakemake(workdir: Path, *args: str, configfile: Path = TINY) -> subprocess.CompletedProcess:
    """``snakemake -s workflow/Snakefile --configfile CONFIG -d WORKDIR ARGS`` (output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile", str(configfile),
         "-d", str(workdir), *args],
        capture_output=True, text=True, cwd=ROOT,
    )


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
