"""The config check: ``python tools/config_check.py FILE...`` reads every config file
strictly and merges and validates them as the workflow does, naming the file (and line and
column) of a fault (config/README.md, "Running a config"), and checks the output folder
(``--out FOLDER``: what ``make run OUT=FOLDER`` passes as ``--config out=FOLDER``).
``make run``, ``make lint`` and ``make report`` run it first; ``--print-out`` prints the
output folder alone (``make report`` writes the report there).

The files are merged by Snakemake's own ``snakemake.utils.update_config`` (the rule of
``--configfile``: mappings key by key, lists and other values replaced whole) and checked
against the workflow's schema, ``workflow/schemas/config.schema.yaml``. Outside the library
on purpose: the library imports neither Snakemake nor the workflow's files. It reads a
recording's passive card for ``prior/area/from_recording`` (numpy, pyabf, pynwb).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from snakemake.utils import update_config

from mfnpe.observation.passive import area_prior_from_recording
from mfnpe.plan import out_folder
from mfnpe.plan.config import ConfigError, check_merged, load_schema, read_yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
"""The workflow's config schema (the rules validate against the same file)."""


def snakemake_merge(paths: Sequence[str | Path]) -> dict:
    """The files merged in order as ``snakemake --configfile PATHS...`` merges them (by
    Snakemake's ``update_config``), each read strictly (:func:`read_yaml`); sets not yet
    replaced, nothing checked."""
    config: dict = {}
    for path in paths:
        update_config(config, read_yaml(path))
    return config


def merged_config(paths: Sequence[str | Path], area_measure=area_prior_from_recording,
                  schema_path: Path = SCHEMA_PATH, out: str | None = None) -> dict:
    """The config ``snakemake --configfile PATHS... [--config out=OUT]`` runs with
    (:func:`snakemake_merge`, then ``out`` over it as Snakemake's ``--config`` does, then
    ``mfnpe.plan.config.check_merged``: sets replaced whole, the area prior from the
    recording resolved, defaults filled and checked; then the output folder,
    ``mfnpe.plan.out_folder.check``). A recording stimulus's sweeps are left to the
    workflow's startup."""
    config = snakemake_merge(paths)
    if out is not None:
        update_config(config, {"out": out})
    config = check_merged(config, paths, load_schema(schema_path), area_measure)
    out_folder.check(config, paths)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 if the config files are valid, else print the error (it names the file, and
    the line where there is one) and exit 1.

    Snakemake reads ``--configfile`` files itself before the Snakefile runs and reports a
    YAML fault, an empty file or a top-level list without naming the file."""
    parser = argparse.ArgumentParser(
        prog="python tools/config_check.py",
        description="Check config files as the workflow merges them, in the order given "
                    "(list config/config.yaml first, as the workflow reads it first).")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--out", metavar="FOLDER",
                        help="the output folder, as snakemake --config out=FOLDER gives it")
    parser.add_argument("--print-out", action="store_true",
                        help="print only the output folder of the valid config")
    args = parser.parse_args(argv)
    try:
        config = merged_config(args.files, out=args.out)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 1
    if args.print_out:
        print(out_folder.folder(config))
        return 0
    print(f"config files valid: {' '.join(map(str, args.files))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
