"""HPD level of a known theta in every model's posterior of a recording that has no theta
of its own (a file written by tools/synthetic_recording.py).

    .venv/bin/python tools/known_answer.py results/observations/cell/posterior.h5 \
        gNa=120 gK=36 gL=0.3 area=2000

Reads the workflow's posterior file (its x, draws and runs), loads each run's model from
``results/models/`` and prints, per model, log q(theta | x), the HPD level (fraction of
its stored draws denser than theta) and whether theta is inside the 95% HPD region.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from mfnpe.inference import Posterior
from mfnpe.observation.posterior import hpd_level, read_observation


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    path, assignments = Path(argv[0]), dict(item.split("=") for item in argv[1:])
    result = read_observation(path)
    theta = np.array([float(assignments[name]) for name in result.param_names])
    models = path.parents[2] / "models"
    print("method n_lf n_hf seed log_q_true hpd_level inside_95")
    for index, run in enumerate(result.runs):
        model = Posterior.load(models / run["method"] /
                               f"nlf-{run['n_lf']}_nhf-{run['n_hf']}_seed-{run['seed']}.pt")
        x = result.x[None]
        draws = result.samples[index]
        log_true = float(model.log_prob(theta[None], x)[0])
        level = hpd_level(model.log_prob(draws, np.repeat(x, len(draws), 0)), log_true)
        print(run["method"], run["n_lf"], run["n_hf"], run["seed"], f"{log_true:.3f}",
              f"{level:.3f}", level <= 0.95)


if __name__ == "__main__":
    main()
