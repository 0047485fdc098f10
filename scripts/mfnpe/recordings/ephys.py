"""Current-clamp sweeps from ABF (1 and 2, pyabf) and NWB 2 (pynwb) files.

One file is one :class:`EphysFile` (:func:`open_ephys`): its sweeps listed without reading
samples (:class:`SweepInfo`), each sweep's command current as a piecewise-constant
:class:`~mfnpe.stimulus.protocols.Protocol`, and the chosen sweeps read as
:class:`Sweep` (time [ms], voltage [mV], command [pA]), only the chosen samples read from
disk. Units come from the file. Every fault raises a subclass of
:class:`~mfnpe.recordings.errors.RecordingError` whose message starts with the file
and names the fault (docs/recordings.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfnpe.recordings.commands import common_protocol, protocol_from_waveform
from mfnpe.recordings.errors import (AmplitudeNotFoundError, MissingCommandError,
                                     NonFiniteSamplesError, NotPiecewiseConstantError,
                                     RecordingError, SamplingRateError, SweepIndexError,
                                     UnitError, VoltageClampError)
from mfnpe.stimulus.protocols import Protocol, current_pA, make_protocol

MIN_RATE_HZ = 10_000.0
"""Sweeps sampled more slowly are refused (features need spike peaks resolved)."""
VOLTAGE_TO_MV = {"V": 1e3, "volt": 1e3, "volts": 1e3, "Volts": 1e3, "mV": 1.0,
                 "millivolt": 1.0, "millivolts": 1.0, "uV": 1e-3, "µV": 1e-3, "μV": 1e-3}
"""Voltage unit string as files write it -> factor to mV."""
CURRENT_TO_PA = {"A": 1e12, "ampere": 1e12, "amperes": 1e12, "Amperes": 1e12, "mA": 1e9,
                 "uA": 1e6, "µA": 1e6, "μA": 1e6, "nA": 1e3, "nanoampere": 1e3,
                 "nanoamperes": 1e3, "pA": 1.0, "picoampere": 1.0, "picoamperes": 1.0,
                 "fA": 1e-3}
"""Current unit string as files write it -> factor to pA."""
SUFFIXES = (".abf", ".nwb")
ABF1_WAVEFORM_FIELDS_END = 2304
"""Byte where an ABF1 header's nWaveformEnable and nWaveformSource fields end; a shorter
header (pyabf's writer) has no DAC waveform."""


@dataclass(frozen=True)
class SweepInfo:
    """What the file says about one sweep, without its samples.

    Attributes
    ----------
    index : position in :attr:`EphysFile.sweeps` (0-based); chooses the sweep.
    sweep_number : the file's own number (ABF: the sweep's position; NWB: ``sweep_number``).
    name : the series' name (NWB) or ``sweep <n>`` (ABF).
    clamp : ``"current"``, ``"izero"`` (current clamp at 0 pA) or ``"voltage"``.
    rate_hz : sampling rate [Hz].
    n_samples : samples in the sweep.
    """

    index: int
    sweep_number: int
    name: str
    clamp: str
    rate_hz: float
    n_samples: int

    @property
    def duration_ms(self) -> float:
        return self.n_samples * 1000.0 / self.rate_hz


@dataclass
class Sweep:
    """One current-clamp sweep (or the chosen window of it).

    Attributes
    ----------
    source : the file.
    index, sweep_number : as in :class:`SweepInfo`.
    rate_hz : sampling rate [Hz].
    time : (T,) float64 sample times [ms] from the start of the sweep.
    voltage : (T,) float64 membrane potential [mV].
    command : (T,) float64 command current [pA].
    protocol : the command of the whole sweep as a piecewise-constant protocol.
    """

    source: Path
    index: int
    sweep_number: int
    rate_hz: float
    time: np.ndarray
    voltage: np.ndarray
    command: np.ndarray
    protocol: Protocol

    @property
    def dt(self) -> float:
        """Sampling interval [ms]."""
        return 1000.0 / self.rate_hz


def _factor(source: str, unit, table: dict[str, float], what: str) -> float:
    text = unit.decode() if isinstance(unit, bytes) else str(unit)
    text = text.strip().strip("\x00").strip()
    if text not in table:
        raise UnitError(f"{source}: unknown {what} unit {text!r} (known: {', '.join(table)})")
    return table[text]


def _levels(protocol: Protocol, at_ms: float | None) -> list[float]:
    """The epochs' amplitudes [pA] of ``protocol``, or with ``at_ms`` its level then."""
    if at_ms is not None:
        return [protocol.level_at(at_ms)]
    return [epoch.amplitude for epoch in protocol.epochs]


def _unit_kind(unit) -> str | None:
    text = str(unit).strip().strip("\x00").strip()
    return "voltage" if text in VOLTAGE_TO_MV else "current" if text in CURRENT_TO_PA else None


def _check_finite(source: str, what: str, values: np.ndarray, dt: float, first: int = 0):
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise NonFiniteSamplesError(f"{source}: {int(bad.sum())} NaN or infinite {what} "
                                    f"samples, the first at t = {(first + k) * dt:g} ms")


class EphysFile:
    """An open ABF or NWB file: :attr:`sweeps`, :meth:`protocol`, :meth:`read`,
    :meth:`find` (:meth:`amplitudes`, :meth:`find_or_raise`), :meth:`common_protocol`. Use as a context manager (closes the file)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.sweeps: list[SweepInfo] = []

    # ------------------------------------------------------------ per-format parts
    def _protocol(self, info: SweepInfo) -> Protocol:
        raise NotImplementedError

    def _samples(self, info: SweepInfo, protocol: Protocol, first: int,
                 stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(voltage mV, command pA), each (stop - first,), of samples ``first:stop`` of a
        sweep whose command is ``protocol``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ shared
    def _where(self, info: SweepInfo) -> str:
        return f"{self.path}: sweep {info.index} ({info.name})"

    def info(self, index: int) -> SweepInfo:
        """The :class:`SweepInfo` of sweep ``index``; :class:`SweepIndexError` outside."""
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.sweeps):
            raise SweepIndexError(f"{self.path}: sweep index {index!r} out of range: the file "
                                  f"has {len(self.sweeps)} sweeps (0 to {len(self.sweeps) - 1})")
        return self.sweeps[int(index)]

    def _checked(self, index: int) -> SweepInfo:
        info = self.info(index)
        if info.clamp == "voltage":
            raise VoltageClampError(f"{self._where(info)}: a voltage-clamp series; only "
                                    "current-clamp sweeps can be read")
        if info.rate_hz < MIN_RATE_HZ:
            raise SamplingRateError(f"{self._where(info)}: sampled at {info.rate_hz:g} Hz, "
                                    f"below the {MIN_RATE_HZ:g} Hz the features need")
        return info

    def protocol(self, index: int) -> Protocol:
        """The command current of sweep ``index`` as a protocol (times in sweep time)."""
        return self._protocol(self._checked(index))

    def read(self, index: int, window_ms: tuple[float, float] | None = None) -> Sweep:
        """Sweep ``index``, or only its samples with time in ``window_ms`` = (start, stop) [ms]."""
        info = self._checked(index)
        dt = 1000.0 / info.rate_hz
        first, stop = 0, info.n_samples
        if window_ms is not None:
            first = max(int(round(window_ms[0] / dt)), 0)
            stop = min(int(round(window_ms[1] / dt)), info.n_samples)
            if stop - first < 2:
                raise RecordingError(f"{self._where(info)}: the window {window_ms} ms holds "
                                     f"fewer than 2 samples of the {info.duration_ms:g} ms sweep")
        protocol = self._protocol(info)
        voltage, command = self._samples(info, protocol, first, stop)
        _check_finite(self._where(info), "voltage", voltage, dt, first)
        _check_finite(self._where(info), "command", command, dt, first)
        time = (first + np.arange(stop - first)) * dt
        return Sweep(self.path, info.index, info.sweep_number, info.rate_hz, time,
                     voltage, command, protocol)

    def _chooseable(self):
        """``(index, protocol)`` of every sweep that can be chosen by amplitude: current
        clamp, command read and piecewise constant, sampled fast enough."""
        for info in self.sweeps:
            if info.clamp == "voltage":
                continue
            try:
                yield info.index, self.protocol(info.index)
            except (MissingCommandError, NotPiecewiseConstantError, SamplingRateError):
                continue

    def find(self, amplitude_pA: float, at_ms: float | None = None,
             tolerance_pA: float = 1e-3) -> list[int]:
        """Indices of the current-clamp sweeps with an epoch at ``amplitude_pA`` (or, with
        ``at_ms``, whose command at that time [ms] is ``amplitude_pA``). Sweeps whose
        command is missing or not piecewise constant, or that are sampled too slowly, are
        skipped. Reads every sweep's command (NWB: its stimulus, one sweep at a time)."""
        return [index for index, protocol in self._chooseable()
                if any(abs(level - amplitude_pA) <= tolerance_pA
                       for level in _levels(protocol, at_ms))]

    def amplitudes(self, at_ms: float | None = None) -> tuple[float, ...]:
        """The distinct levels [pA], ascending, that :meth:`find` can choose: the epochs'
        amplitudes of the sweeps it reads (with ``at_ms``: their commands at that time)."""
        return tuple(sorted({level for _, protocol in self._chooseable()
                             for level in _levels(protocol, at_ms)}))

    def find_or_raise(self, amplitude_pA: float, at_ms: float | None = None,
                      tolerance_pA: float = 1e-3) -> list[int]:
        """:meth:`find`, raising :class:`AmplitudeNotFoundError` (naming the file and
        listing :meth:`amplitudes`) when no sweep is found."""
        found = self.find(amplitude_pA, at_ms, tolerance_pA)
        if not found:
            where = f" at t = {at_ms:g} ms" if at_ms is not None else ""
            kind = "commands" if at_ms is not None else "epochs"
            present = self.amplitudes(at_ms)
            listed = (f"its current-clamp sweeps' {kind}{where} are at "
                      f"{', '.join(f'{a:g}' for a in present)} pA" if present
                      else "it has no current-clamp sweep whose command can be read")
            raise AmplitudeNotFoundError(
                f"{self.path}: no current-clamp sweep has "
                f"{'a command' if at_ms is not None else 'an epoch'} at {amplitude_pA:g} pA"
                f"{where}; {listed}")
        return found

    def common_protocol(self, indices: Sequence[int]) -> Protocol:
        """The protocol sweeps ``indices`` share; :class:`ProtocolMismatchError` if they differ."""
        return common_protocol([self.protocol(i) for i in indices], str(self.path), indices)


# ---------------------------------------------------------------------------- ABF

class AbfFile(EphysFile):
    """An ABF 1 or 2 file through pyabf's header reader; samples memory-mapped.

    The voltage is the first ADC channel in a voltage unit. The command is the epoch table
    of the DAC of the same number (when it drives the DAC), else the first ADC channel in a
    current unit (a recorded command); otherwise :class:`MissingCommandError`.
    """

    def __init__(self, path: Path):
        super().__init__(path)
        import pyabf  # only ABF reading needs it

        try:
            self.abf = pyabf.ABF(str(self.path), loadData=False)
        except Exception as err:  # pyabf raises bare Exceptions for broken files
            raise RecordingError(f"{self.path}: not a readable ABF file: {err}") from err
        abf = self.abf
        kinds = [_unit_kind(unit) for unit in abf.adcUnits]
        if "voltage" not in kinds:
            unknown = [unit for unit, kind in zip(abf.adcUnits, kinds) if kind is None]
            if unknown:
                raise UnitError(f"{self.path}: unknown unit(s) {unknown} of the recorded "
                                f"channels (units {abf.adcUnits}); none is a voltage unit")
            raise VoltageClampError(f"{self.path}: no channel records a voltage (channel "
                                    f"units {abf.adcUnits}): a voltage-clamp recording")
        dac_kinds = [_unit_kind(unit) for unit in abf.dacUnits]
        if kinds[0] == "current" and dac_kinds[:1] == ["voltage"]:
            raise VoltageClampError(f"{self.path}: the first channel is in {abf.adcUnits[0]!r} "
                                    f"and DAC 0 commands {abf.dacUnits[0]!r}: a voltage-clamp "
                                    "recording")
        self.voltage_channel = kinds.index("voltage")
        self.command_channel = next((c for c, kind in enumerate(kinds) if kind == "current"), None)
        self.dac = self.voltage_channel
        lengths = set(getattr(getattr(abf, "_synchArraySection", None), "lLength", [0]) or [0])
        if abf.sweepCount > 1 and len(lengths) > 1:
            raise RecordingError(f"{self.path}: variable-length sweeps are not supported")
        self._epoch_table = None
        self.sweeps = [SweepInfo(i, i, f"sweep {i}", "current", float(abf.dataRate),
                               int(abf.sweepPointCount)) for i in range(abf.sweepCount)]

    def _waveform_source(self) -> int:
        """0: no DAC waveform, 1: the epoch table, 2: a stimulus file."""
        abf = self.abf
        if abf.abfVersion["major"] == 1:
            header = abf._headerV1
            # pyabf's ABF1 writer ends the header (2048 bytes) before these fields
            if abf.dataByteStart < ABF1_WAVEFORM_FIELDS_END or self.dac > 1:
                return 0
            enable, source = header.nWaveformEnable[self.dac], header.nWaveformSource[self.dac]
        else:
            if self.dac >= len(abf._dacSection.nWaveformEnable):
                return 0
            enable = abf._dacSection.nWaveformEnable[self.dac]
            source = abf._dacSection.nWaveformSource[self.dac]
        return int(source) if enable == 1 and source in (1, 2) else 0

    def _protocol(self, info: SweepInfo) -> Protocol:
        source = self._waveform_source()
        if source == 1:
            return self._epoch_protocol(info)
        if self.command_channel is not None:
            dt = 1000.0 / info.rate_hz
            command = self._channel(self.command_channel, info.index, 0, info.n_samples,
                                    "command")
            _check_finite(self._where(info), "command", command, dt)
            return protocol_from_waveform(command, dt, self._where(info))
        why = ("the DAC waveform comes from a stimulus file, which is not read"
               if source == 2 else "no epoch table drives the DAC")
        raise MissingCommandError(f"{self.path}: no command current: {why} and no recorded "
                                  f"channel is in a current unit (channel units "
                                  f"{self.abf.adcUnits})")

    def _epoch_protocol(self, info: SweepInfo) -> Protocol:
        import pyabf.waveform

        abf = self.abf
        dac_unit = abf.dacUnits[self.dac]
        if _unit_kind(dac_unit) == "voltage":
            raise VoltageClampError(f"{self.path}: the command (DAC {self.dac}) is in "
                                    f"{dac_unit!r}: a voltage-clamp protocol")
        scale = _factor(str(self.path), dac_unit, CURRENT_TO_PA, f"DAC {self.dac} command")
        if self._epoch_table is None:
            self._epoch_table = pyabf.waveform.EpochTable(abf, self.dac)
        waveform = self._epoch_table.epochWaveformsBySweep[info.index]
        to_ms = 1000.0 / info.rate_hz
        levels, before = [], None
        for p1, p2, level, kind, width, period in zip(
                waveform.p1s, waveform.p2s, waveform.levels, waveform.types,
                waveform.pulseWidths, waveform.pulsePeriods):
            level = float(level) * scale
            if kind == "Step":
                levels.append((p1 * to_ms, (p2 - p1) * to_ms, level))
            elif kind == "Pulse" and period > 0:  # a train from the previous level
                base = before if before is not None else level
                for k in range(int((p2 - p1) / period)):
                    on = p1 + period * k
                    levels += [(on * to_ms, width * to_ms, level),
                               ((on + width) * to_ms, (period - width) * to_ms, base)]
                tail = p1 + period * int((p2 - p1) / period)
                levels.append((tail * to_ms, (p2 - tail) * to_ms, base))
                level = base
            else:
                raise NotPiecewiseConstantError(
                    f"{self._where(info)}: epoch of type {kind!r} from t = {p1 * to_ms:g} ms: "
                    "the command is not piecewise constant (steps and pulse trains only)")
            before = level
        holding = float(abf.holdingCommand[self.dac]) * scale
        return make_protocol(info.n_samples * to_ms, holding, levels)

    def _channel(self, channel: int, sweep: int, first: int, stop: int, what: str) -> np.ndarray:
        """(stop - first,) float64 samples of ``channel`` in its file unit scaled to mV or pA."""
        abf = self.abf
        unit = abf.adcUnits[channel]
        table = VOLTAGE_TO_MV if what == "voltage" else CURRENT_TO_PA
        factor = _factor(str(self.path), unit, table, f"channel {channel} {what}")
        raw = np.memmap(self.path, dtype=abf._dtype, mode="r", offset=abf.dataByteStart,
                        shape=(abf.dataPointCount // abf.channelCount, abf.channelCount))
        start = sweep * abf.sweepPointCount
        values = np.asarray(raw[start + first:start + stop, channel], dtype=np.float64)
        del raw
        if abf._dtype == np.int16:
            values = values * abf._dataGain[channel] + abf._dataOffset[channel]
        return values * factor

    def _samples(self, info: SweepInfo, protocol: Protocol, first: int, stop: int):
        voltage = self._channel(self.voltage_channel, info.index, first, stop, "voltage")
        if self._waveform_source() == 1:  # the DAC output the epoch table defines
            command = current_pA(protocol, 1000.0 / info.rate_hz, info.n_samples)[first:stop]
        else:
            command = self._channel(self.command_channel, info.index, first, stop, "command")
        return voltage, command


# ---------------------------------------------------------------------------- NWB

class NwbFile(EphysFile):
    """An NWB 2 file through pynwb: the ``PatchClampSeries`` of ``acquisition``, each
    paired with its stimulus by the intracellular recordings table, else by sweep number
    and electrode (the Allen Cell Types and DANDI layouts). Datasets stay on disk and are
    sliced on read."""

    def __init__(self, path: Path):
        super().__init__(path)
        from pynwb import NWBHDF5IO  # only NWB reading needs it
        from pynwb.icephys import PatchClampSeries

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._io = NWBHDF5IO(str(self.path), "r")
                self.nwb = self._io.read()
        except Exception as err:  # pynwb/hdmf/h5py raise many kinds
            raise RecordingError(f"{self.path}: not a readable NWB file: {err}") from err
        series = [s for s in self.nwb.acquisition.values() if isinstance(s, PatchClampSeries)]
        series.sort(key=lambda s: (s.sweep_number if s.sweep_number is not None else 1 << 62,
                                   s.name))
        self._series = series
        self._stimuli = self._pair_stimuli()
        self.sweeps = []
        for index, response in enumerate(series):
            rate, n = self._rate_and_length(response)
            number = int(response.sweep_number) if response.sweep_number is not None else index
            self.sweeps.append(SweepInfo(index, number, response.name, _clamp(response),
                                         rate, n))

    def close(self) -> None:
        self._io.close()

    def _pair_stimuli(self) -> dict:
        """response name -> its stimulus series (each paired as a whole)."""
        from pynwb.icephys import PatchClampSeries

        pairs = {}
        table = getattr(self.nwb, "intracellular_recordings", None)
        if table is not None and len(table) > 0:
            responses = table.category_tables["responses"]["response"]
            stimuli = table.category_tables["stimuli"]["stimulus"]
            for row in range(len(table)):
                response, stimulus = responses[row], stimuli[row]
                if response is None or stimulus is None or stimulus.timeseries is None:
                    continue
                pairs[response.timeseries.name] = stimulus.timeseries
        by_number = {}
        for stimulus in self.nwb.stimulus.values():
            if isinstance(stimulus, PatchClampSeries) and stimulus.sweep_number is not None:
                key = (int(stimulus.sweep_number), _electrode(stimulus))
                by_number.setdefault(key, stimulus)
        for response in self._series:
            if response.name in pairs or response.sweep_number is None:
                continue
            stimulus = by_number.get((int(response.sweep_number), _electrode(response)))
            if stimulus is not None:
                pairs[response.name] = stimulus
        return pairs

    def _rate_and_length(self, series) -> tuple[float, int]:
        n = int(series.data.shape[0])
        if series.rate is not None:
            return float(series.rate), n
        stamps = series.timestamps
        if stamps is None or n < 2:
            raise SamplingRateError(f"{self.path}: series {series.name!r} has neither a rate "
                                    "nor timestamps")
        span = float(stamps[n - 1]) - float(stamps[0])
        return (n - 1) / span, n

    def _stimulus(self, info: SweepInfo):
        from pynwb.icephys import VoltageClampStimulusSeries

        if info.name not in self._stimuli:
            raise MissingCommandError(f"{self._where(info)}: no stimulus series pairs with this "
                                      "response (neither in the intracellular recordings "
                                      "table nor by sweep number)")
        stimulus = self._stimuli[info.name]
        if isinstance(stimulus, VoltageClampStimulusSeries):
            raise VoltageClampError(f"{self._where(info)}: its stimulus {stimulus.name!r} is "
                                    "a voltage-clamp command")
        rate, n = self._rate_and_length(stimulus)
        if abs(rate - info.rate_hz) > 1e-6 * info.rate_hz:
            raise SamplingRateError(f"{self._where(info)}: stimulus {stimulus.name!r} sampled "
                                    f"at {rate:g} Hz, the response at {info.rate_hz:g} Hz")
        if n < info.n_samples:
            raise MissingCommandError(f"{self._where(info)}: stimulus {stimulus.name!r} has "
                                      f"{n} samples, the response {info.n_samples}")
        return stimulus

    def _command(self, info: SweepInfo, first: int, stop: int) -> np.ndarray:
        if info.clamp == "izero":
            return np.zeros(stop - first)
        return _scaled(self.path, self._stimulus(info), first, stop, CURRENT_TO_PA, "stimulus")

    def _protocol(self, info: SweepInfo) -> Protocol:
        dt = 1000.0 / info.rate_hz
        if info.clamp == "izero":
            return Protocol(info.n_samples * dt, 0.0)
        command = self._command(info, 0, info.n_samples)
        _check_finite(self._where(info), "command", command, dt)
        return protocol_from_waveform(command, dt, self._where(info))

    def _samples(self, info: SweepInfo, protocol: Protocol, first: int, stop: int):
        response = self._series[info.index]
        if response.rate is None:
            _check_uniform(self._where(info), np.asarray(response.timestamps[first:stop]))
        voltage = _scaled(self.path, response, first, stop, VOLTAGE_TO_MV, "response")
        return voltage, self._command(info, first, stop)


def _clamp(series) -> str:
    from pynwb.icephys import CurrentClampSeries, IZeroClampSeries

    if isinstance(series, IZeroClampSeries):
        return "izero"
    if isinstance(series, CurrentClampSeries):
        return "current"
    return "voltage"  # VoltageClampSeries, or a plain PatchClampSeries in amperes


def _electrode(series):
    electrode = getattr(series, "electrode", None)
    return electrode.name if electrode is not None else None


def _scaled(path, series, first: int, stop: int, table: dict[str, float], what: str):
    """(stop - first,) float64 samples ``first:stop`` of an NWB series in mV or pA:
    ``(data * conversion + offset) * unit factor``; only that slice is read."""
    # the unit attribute as stored: pynwb reports the schema's fixed unit instead
    unit = getattr(series.data, "attrs", {}).get("unit", series.unit)
    factor = _factor(f"{path}: {what} {series.name!r}", unit, table, what)
    data = np.asarray(series.data[first:stop], dtype=np.float64)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    return (data * float(series.conversion) + offset) * factor


def _check_uniform(source: str, stamps: np.ndarray) -> None:
    steps = np.diff(stamps)
    if steps.size and np.abs(steps - steps.mean()).max() > 0.01 * steps.mean():
        raise SamplingRateError(f"{source}: non-uniform timestamps: intervals from "
                                f"{steps.min():g} to {steps.max():g} s")


# ---------------------------------------------------------------------------- entry points

def open_ephys(path) -> EphysFile:
    """An :class:`EphysFile` for an ``.abf`` or ``.nwb`` file (by suffix)."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".abf":
        return AbfFile(path)
    if suffix == ".nwb":
        return NwbFile(path)
    raise RecordingError(f"{path}: unknown electrophysiology format {path.suffix!r} "
                         f"(expected one of {', '.join(SUFFIXES)})")


def write_nwb(path, sweeps: Sequence[dict], *, rate: float | None = None,
              description: str = "mfnpe", paired: bool = True) -> Path:
    """Write sweeps to an NWB 2 file in the Allen Cell Types/DANDI layout (what
    :class:`NwbFile` reads): per sweep ``data_<n>_AD0`` in acquisition and ``data_<n>_DA0``
    in stimulus with its ``sweep_number``, paired in the intracellular-recordings table
    when ``paired``. Returns ``path``.

    ``sweeps``: dicts with ``voltage`` (T,) [mV] and ``command`` (T,) [pA] or None (no
    stimulus series); optional ``number`` (default: the position), ``rate`` [Hz] (default
    ``rate``) and ``clamp`` ("current", or "voltage": then ``voltage`` holds the measured
    current [pA] and ``command`` the command voltage [mV]). Written as float32 in volts
    and amperes with conversions 1e-3 (mV) and 1e-12 (pA).
    """
    from datetime import UTC, datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import (CurrentClampSeries, CurrentClampStimulusSeries,
                               VoltageClampSeries, VoltageClampStimulusSeries)

    nwb = NWBFile(description, "mfnpe", datetime(2026, 1, 1, tzinfo=UTC))
    device = nwb.create_device("amplifier")
    electrode = nwb.create_icephys_electrode(name="electrode_0", description=description,
                                             device=device)
    for position, sweep in enumerate(sweeps):
        number = int(sweep.get("number", position))
        voltage_clamp = sweep.get("clamp") == "voltage"
        response_type, stimulus_type = ((VoltageClampSeries, VoltageClampStimulusSeries)
                                        if voltage_clamp else
                                        (CurrentClampSeries, CurrentClampStimulusSeries))
        common = {"rate": float(sweep.get("rate", rate)), "electrode": electrode, "gain": 1.0,
                  "sweep_number": np.uint32(number), "starting_time": 0.0}
        response = response_type(
            name=f"data_{number:05d}_AD0", data=np.asarray(sweep["voltage"], dtype=np.float32),
            conversion=1e-12 if voltage_clamp else 1e-3, **common)
        nwb.add_acquisition(response)
        if sweep.get("command") is None:
            continue
        stimulus = stimulus_type(
            name=f"data_{number:05d}_DA0", data=np.asarray(sweep["command"], dtype=np.float32),
            conversion=1e-3 if voltage_clamp else 1e-12, **common)
        nwb.add_stimulus(stimulus)
        if paired:
            nwb.add_intracellular_recording(electrode=electrode, stimulus=stimulus,
                                            response=response)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb's notes on the icephys tables
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)
    return Path(path)


def list_sweeps(path) -> list[SweepInfo]:
    """Every sweep of the file, without reading samples."""
    with open_ephys(path) as ephys:
        return list(ephys.sweeps)


def read_sweeps(path, sweeps: Sequence[int] | None = None, amplitude_pA: float | None = None,
                at_ms: float | None = None, window_ms: tuple[float, float] | None = None,
                same_protocol: bool = False) -> list[Sweep]:
    """The chosen sweeps of an ABF or NWB file.

    Parameters
    ----------
    sweeps : sweep indices (:attr:`SweepInfo.index`); None: every current-clamp sweep, or
        with ``amplitude_pA`` those with an epoch at that current [pA] (at ``at_ms`` [ms]
        if given, see :meth:`EphysFile.find`; none raises
        :class:`~mfnpe.recordings.errors.AmplitudeNotFoundError` listing the file's).
    window_ms : (start, stop) [ms]: read only these samples of each sweep.
    same_protocol : raise :class:`~mfnpe.recordings.errors.ProtocolMismatchError`
        unless the chosen sweeps share one protocol.
    """
    with open_ephys(path) as ephys:
        if sweeps is None:
            sweeps = (ephys.find_or_raise(amplitude_pA, at_ms) if amplitude_pA is not None else
                      [s.index for s in ephys.sweeps if s.clamp != "voltage"])
        if same_protocol:
            ephys.common_protocol(sweeps)
        return [ephys.read(index, window_ms) for index in sweeps]
