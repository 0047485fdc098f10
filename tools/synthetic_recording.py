"""An NWB file of one HF simulation at a known theta under a real recording's sweeps: a
recording with a known answer, read by the workflow like any other.

    .venv/bin/python tools/synthetic_recording.py --out cell.nwb \
        [--like tests/data/recordings/171116sh_0019.abf] [--sweeps 0 1 2 3 4] \
        [--window 0 700] [--theta gNa=120 gK=36 gL=0.3 area=2000] [--model-name classic] \
        [--simulator binomial] [--dt 0.01] [--seed 7]

Each chosen sweep's protocol is read from ``--like`` (cropped to ``--window`` [ms]), or,
with ``--like three-epoch``, is this tool's own: 200 ms at 20 kHz, holding −31.25 pA, a
step of 62.5 + 125·s pA on [20, 70) ms in sweep s, −62.5 pA on [70, 100) and 250 pA on
[120, 160) (sweeps 0, 1, 2);
simulated at ``theta`` with the HF simulator at ``dt`` [ms] (seed ``--seed``, one per
sweep), sampled down to the recording's own rate and written in the Allen/DANDI NWB
layout: per sweep a ``CurrentClampSeries`` (volts, conversion 1e-3: mV) and its
``CurrentClampStimulusSeries`` (amperes, conversion 1e-12: pA) with the sweep's number,
paired in the intracellular-recordings table (``mfnpe.recordings.ephys.write_nwb``). The NWB
sweep numbers are the source's, but a config's ``sweeps`` are positions in the file: with
the default ``--sweeps 0 1 2 3 4`` they coincide, so ``sweeps: [2, 3, 4]`` chooses the
same sweeps here as in the source.
"""

from __future__ import annotations

import argparse

import numpy as np
from mfnpe.hh.model import constants_table
from mfnpe.recordings.ephys import open_ephys, write_nwb
from mfnpe.stimulus import protocols
from mfnpe.simulation import simulators
from mfnpe.simulation.experiment import SimulatorSettings


THREE_EPOCH_RATE_HZ = 20_000.0


def three_epoch(sweep: int) -> protocols.Protocol:
    """The ``three-epoch`` protocol of sweep ``sweep`` (a multi-epoch current clamp with a
    non-zero holding current; the levels are on the ABF writer's 15.625 pA grid)."""
    return protocols.make_protocol(200.0, -31.25, [(20.0, 50.0, 62.5 + 125.0 * sweep),
                                                   (70.0, 30.0, -62.5), (120.0, 40.0, 250.0)])


def simulate_sweeps(like, sweeps, window, theta, model, simulator, dt, seed):
    """``(rate_hz, [(sweep, voltage (T,) mV, command (T,) pA)])`` at the source's rate."""
    if like == "three-epoch":
        rate = THREE_EPOCH_RATE_HZ
        chosen = [(s, protocols.crop(three_epoch(s), window)) for s in sweeps]
    else:
        with open_ephys(like) as source:
            rate = source.info(sweeps[0]).rate_hz
            chosen = [(s, protocols.crop(source.protocol(s), window)) for s in sweeps]
    stride = int(round(1000.0 / rate / dt))
    if abs(stride * dt - 1000.0 / rate) > 1e-9:
        raise ValueError(f"dt {dt} ms does not divide the recording's interval {1000 / rate} ms")
    names = list(theta)
    constants = constants_table(model, np.array([[theta[n] for n in names]]), names)
    simulate = simulators.batch_function(SimulatorSettings(simulator, dt))
    out = []
    for k, (sweep, protocol) in enumerate(chosen):
        v = simulate(constants, protocol, seeds=np.array([seed + k], dtype=np.uint32)).v[0]
        command = protocols.current_pA(protocol, 1000.0 / rate)
        out.append((sweep, v[::stride][: command.size], command))
    return rate, out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--like", default="tests/data/recordings/171116sh_0019.abf")
    parser.add_argument("--sweeps", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--window", type=float, nargs=2, default=[0.0, 700.0])
    parser.add_argument("--theta", nargs="+", default=["gNa=120", "gK=36", "gL=0.3",
                                                      "area=2000"])
    parser.add_argument("--model-name", default="classic")
    parser.add_argument("--simulator", default="binomial")
    parser.add_argument("--dt", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    theta = {k: float(v) for k, v in (item.split("=") for item in args.theta)}
    model = {} if args.model_name == "classic" else {"name": args.model_name}
    rate, sweeps = simulate_sweeps(args.like, args.sweeps, args.window, theta, model,
                                   args.simulator, args.dt, args.seed)
    description = (f"{args.simulator} simulation at {theta} ({args.model_name}) under sweeps "
                   f"{args.sweeps} of {args.like}, window {args.window} ms, seed {args.seed}")
    write_nwb(args.out, [{"number": number, "voltage": voltage, "command": command}
                         for number, voltage, command in sweeps],
              rate=rate, description=description)
    print(f"wrote {args.out}: {len(sweeps)} sweeps at {rate:g} Hz; {description}")


if __name__ == "__main__":
    main()
