"""The example of docs/library.md runs as printed and gives a sensible posterior."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_DOC = ROOT / "docs" / "library.md"


def library_example() -> str:
    text = LIBRARY_DOC.read_text()
    block = re.search(r"<!-- example:start -->\s*```python\n(.*?)```\s*<!-- example:end -->",
                      text, re.DOTALL)
    assert block, "docs/library.md has no example block between the example markers"
    return block.group(1)


def _line(stdout: str, prefix: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, (prefix, stdout)
    return lines[0]


# The example runs end to end (simulations, pretraining, fine-tuning, sampling): minutes
# of CPU, so in the workflow tier (tests/tiers.py).
@pytest.mark.workflow
def test_library_example_runs(tmp_path):
    """The damped oscillator (omega log-uniform, raw traces through an FC embedding, LF
    the noise-free closed form): at omega = 2, zeta = 0.2 the MF-NPE posterior mean is
    near the truth and every draw lies inside the prior box."""
    script = tmp_path / "example.py"
    script.write_text("import torch\ntorch.set_num_threads(1)\n" + library_example())
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?",
                                            _line(run.stdout, "posterior mean"))]
    (omega, zeta), (sd_omega, sd_zeta) = numbers[:2], numbers[2:4]
    # a 50-sample trace pins the frequency to a few percent, the damping less well
    assert abs(omega - 2.0) < 0.2 and sd_omega < 0.3, run.stdout
    assert abs(zeta - 0.2) < 0.1 and sd_zeta < 0.15, run.stdout
    assert _line(run.stdout, "all draws inside the prior").endswith("True")
    log_q = float(re.findall(r"-?\d+\.\d+", _line(run.stdout, "log q"))[0])
    assert log_q > 0  # a density concentrated well below the prior box's area
    assert (tmp_path / "mf_npe.pt").exists()
    assert not (tmp_path / "sbi-logs").exists()
