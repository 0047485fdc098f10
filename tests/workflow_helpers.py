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
