"""Current-clamp files for the tests: HF simulations at a known θ under a known
multi-epoch protocol, written as ABF (pyabf's writer, with a command channel) and NWB
(``tests/test_ephys.py``, ``tests/test_recording_workflow.py``), and copies of a real
file's sweeps in another order (``tests/test_cells.py``)."""

import functools
import struct
from pathlib import Path

import numpy as np
import pyabf
import pyabf.abfWriter

from mfnpe.hh.model import constants_table
from mfnpe.recordings import ephys
from mfnpe.recordings.ephys import open_ephys
from mfnpe.stimulus.protocols import Epoch, Protocol, current_pA

REAL_ABF = Path(__file__).parent / "data" / "recordings" / "171116sh_0019.abf"
RATE = 20_000.0  # Hz
DT = 1000.0 / RATE  # ms
N_SAMPLES = 4000  # 200 ms
# Values on the int16 grid of the ABF writer (1000/32768 pA for data within ±1000), so the
# ABF file stores them exactly: multiples of 15.625 pA.
HOLDING = -31.25  # pA


def written_protocol(sweep: int) -> Protocol:
    """The three sweeps' protocol: a step rising by 125 pA per sweep, right after it a
    hyperpolarising epoch, and a second step; holding -31.25 pA in between."""
    return Protocol(N_SAMPLES * DT, HOLDING, (Epoch(20.0, 50.0, 62.5 + 125.0 * sweep),
                                              Epoch(70.0, 30.0, -62.5),
                                              Epoch(120.0, 40.0, 250.0)))


THETA_TRUE = {"gNa": 120.0, "gK": 36.0, "gL": 0.3, "area": 2000.0}
"""The known parameters of the written files' HF simulations (mS/cm², µm²)."""
HF_DT = 0.01  # ms: the HF simulator's step, sampled down 5x to the files' 20 kHz


@functools.lru_cache
def simulated_sweeps(n_sweeps: int):
    """HF (binomial) simulations at THETA_TRUE of the written protocol's sweeps, starting at
    rest under the holding current: (voltage (S, T) mV at 20 kHz, 100 kHz traces, commands
    (S, T) pA)."""
    from mfnpe.hh import markov

    table = constants_table({}, np.array([list(THETA_TRUE.values())]), list(THETA_TRUE))
    fine, commands = [], []
    for sweep in range(n_sweeps):
        protocol = written_protocol(sweep)
        seed = np.array([sweep], dtype=np.uint32)
        fine.append(markov.simulate_binomial(table, protocol, HF_DT, seed).v[0].astype(float))
        commands.append(current_pA(protocol, DT))
    stride = round(DT / HF_DT)
    fine = np.array(fine)
    return fine[:, ::stride], fine, np.array(commands)


def written_sweeps(n_sweeps=3):
    """The files' sweeps: HF simulations at THETA_TRUE [mV] and their commands [pA]."""
    voltage, _, commands = simulated_sweeps(n_sweeps)
    return voltage.copy(), commands.copy()


# ---------------------------------------------------------------------------- ABF writer

def write_abf(path, channels, units, rate=RATE):
    """An ABF1 file of ``channels`` (c, sweeps, T) in ``units`` (c,) by pyabf's writer.

    ``pyabf.abfWriter.writeABF1`` stores one channel in one unit and no epoch table or DAC
    waveform. A second channel is written here as rigs record a command: the channels'
    samples interleaved through the writer (at c times the rate), then the header's channel
    count, sampling sequence and per-channel units set.
    """
    channels = np.asarray(channels, dtype=float)
    n_channels, n_sweeps, n_samples = channels.shape
    interleaved = channels.transpose(1, 2, 0).reshape(n_sweeps, n_samples * n_channels)
    pyabf.abfWriter.writeABF1(interleaved, str(path), rate * n_channels, units=units[0])
    header = bytearray(path.read_bytes())
    struct.pack_into("h", header, 120, n_channels)  # nADCNumChannels
    struct.pack_into("16h", header, 410, *range(16))  # nADCSamplingSeq
    for channel, unit in enumerate(units):
        struct.pack_into("8s", header, 602 + 8 * channel, unit.ljust(8).encode())  # sADCUnits
    path.write_bytes(bytes(header))
    return path


# ---------------------------------------------------------------------------- NWB writer

def write_nwb(path, sweeps, table=True):
    """:func:`mfnpe.recordings.ephys.write_nwb` at this file's rate (sweeps may set their own)."""
    return ephys.write_nwb(path, sweeps, rate=RATE, description="test cell", paired=table)


def shuffled_copy(path: Path, out: Path, order) -> Path:
    """An NWB file of ``path``'s sweeps ``order`` (their voltage and command), in that order."""
    sweeps = []
    with open_ephys(path) as cell:
        rate = cell.info(order[0]).rate_hz
        for index in order:
            sweep = cell.read(index, None)
            command = current_pA(sweep.protocol, 1000.0 / rate)
            sweeps.append({"voltage": np.asarray(sweep.voltage),
                           "command": command[:len(sweep.voltage)]})
    return ephys.write_nwb(out, sweeps, rate=rate)
