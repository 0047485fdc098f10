"""The example of docs/library.md runs as printed and gives a sensible posterior."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_DOC = ROOT / "docs" / "library.md"


def library_example() -> str:
    text = LIBRARY_DOC.read_text()
    block = re.search(r"<!-- example:start -->\s*```python\n(.*?)```\s*<!-- example:end -->",
                      text, re.DOTALL)
    assert block, "docs/library.md has no example block between the example markers"
    return block.group(1)


def test_library_example_runs(tmp_path):
    script = tmp_path / "example.py"
    script.write_text("import torch\ntorch.set_num_threads(1)\n" + library_example())
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+", run.stdout.splitlines()[-2])]
    mean = numbers[:2]
    # x_o was simulated at theta = (0.5, -0.5) with HF noise SD 0.3: the posterior mean is
    # within a few noise SDs of it
    assert abs(mean[0] - 0.5) < 1.0 and abs(mean[1] + 0.5) < 1.0, run.stdout
    assert (tmp_path / "mf_npe.pt").exists()
    assert not (tmp_path / "sbi-logs").exists()
