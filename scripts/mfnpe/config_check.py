"""The config check command: ``python -m mfnpe.config_check FILE...`` reads every config file
strictly and merges and validates them as the workflow does, naming the file (and line and
column) of a fault (config/README.md, "Running a config").

Its own module, above the planning layer: it reads a recording's passive card for
``prior/area/from_recording`` (numpy, pyabf, pynwb), which the planning layer never imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mfnpe.observation.passive import area_prior_from_recording
from mfnpe.plan.config import ConfigError, merge_files, read_yaml


def check_files(paths: Sequence[str | Path]) -> dict:
    """Read every file strictly (:func:`read_yaml`), then merge and check them as
    ``snakemake --configfile PATHS...`` runs them (:func:`merge_files`, an area prior from
    the recording resolved); returns the config. A recording stimulus's sweeps are left to
    the workflow's startup."""
    for path in paths:
        read_yaml(path)
    return merge_files(paths, area_measure=area_prior_from_recording)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mfnpe.config_check FILE...``: exit 0 if the config files are valid, else
    print the error (it names the file, and the line where there is one) and exit 1.

    Snakemake reads ``--configfile`` files itself before the Snakefile runs and reports a
    YAML fault, an empty file or a top-level list without naming the file; the Makefile's
    ``run``, ``lint`` and ``report`` run this first."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m mfnpe.config_check",
        description="Check config files as the workflow merges them, in the order given "
                    "(list config/config.yaml first, as the workflow reads it first).")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    try:
        check_files(args.files)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 1
    print(f"config files valid: {' '.join(map(str, args.files))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
