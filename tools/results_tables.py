"""The default run's tables in the docs, written from ``results/summary/`` of ``make run``.

    python tools/results_tables.py [SUMMARY_DIR] [--doc docs/results.md]
                                   [--headline docs/headline.csv] [--check]

SUMMARY_DIR (default ``results/summary``) holds the default run's ``table.csv``,
``saving.csv``, ``saving_over_seeds.csv``, ``calibration.csv`` and ``observations.csv``.
The tool writes

- ``docs/headline.csv``: the numbers README.md's "Headline result" quotes (test-set NLTP,
  mean and 95 % interval over the seeds, of MF-NPE and NPE at their smallest and largest HF
  budget and of LF-NPE); ``tests/test_results_tables.py`` checks that README's paragraph
  quotes exactly these, and the tables against a copy of the run's summary rows;
- the tables of docs/results.md between the markers ``<!-- NAME:start -->`` and
  ``<!-- NAME:end -->`` for NAME in ``nltp`` ("The default experiment"), ``saving``
  ("HF-simulation saving"), ``calibration`` ("Calibration") and ``observations`` ("The
  shipped recordings").

``--check`` changes nothing and exits with 1 (naming what differs) when the committed
files are not what the summary gives: run it after ``make run`` on the default config.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"npe": "NPE (HF only)", "mf_npe": "MF-NPE", "lf_npe": "LF-NPE (pretrained only)"}
SHORT = {"npe": "NPE", "mf_npe": "MF-NPE", "lf_npe": "LF-NPE"}
HEADLINE_COLUMNS = ("role", "method", "n_lf", "n_hf", "nltp", "ci_low", "ci_high", "n_seeds")
BLOCKS = ("nltp", "saving", "calibration", "observations")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _budget(n: int) -> str:
    """10000 as '10 000' (the docs' spelling), smaller numbers as they are."""
    return f"{n:,}".replace(",", " ") if n >= 10000 else str(n)


def nltp_rows(table: list[dict]) -> list[dict]:
    """The ``nltp`` rows of table.csv with typed fields."""
    return [{"method": r["method"], "n_lf": int(r["n_lf"]), "n_hf": int(r["n_hf"]),
             "mean": float(r["mean"]), "ci_low": float(r["ci_low"]),
             "ci_high": float(r["ci_high"]), "n_seeds": int(r["n_seeds"])}
            for r in table if r["metric"] == "nltp"]


def _largest_lf(rows: list[dict]) -> int:
    """The LF size of the headline (the largest the run pretrained on)."""
    return max(r["n_lf"] for r in rows if r["method"] != "npe")


def headline(table: list[dict]) -> list[dict]:
    """README's headline rows: MF-NPE and NPE at their smallest and largest HF budget (MF-NPE
    at the largest LF size), and LF-NPE alone; NLTP rounded to 2 decimals."""
    rows = nltp_rows(table)
    n_lf = _largest_lf(rows)
    picked = []
    for method in ("mf_npe", "npe"):
        mine = sorted((r for r in rows if r["method"] == method
                       and (method == "npe" or r["n_lf"] == n_lf)), key=lambda r: r["n_hf"])
        picked += [("smallest", mine[0]), ("largest", mine[-1])]
    picked.append(("alone", next(r for r in rows if r["method"] == "lf_npe" and r["n_lf"] == n_lf)))
    return [{"role": f"{r['method']}_{role}", "method": r["method"], "n_lf": r["n_lf"],
             "n_hf": r["n_hf"], "nltp": f"{r['mean']:.2f}", "ci_low": f"{r['ci_low']:.2f}",
             "ci_high": f"{r['ci_high']:.2f}", "n_seeds": r["n_seeds"]} for role, r in picked]


def headline_csv(table: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADLINE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(headline(table))
    return out.getvalue()


def nltp_block(table: list[dict]) -> str:
    """Test-set NLTP, mean [95 % interval] over the seeds, methods by rows, HF budgets by
    columns (every LF size the run has: one row per method and LF size)."""
    rows = nltp_rows(table)
    budgets = sorted({r["n_hf"] for r in rows if r["n_hf"] > 0})
    several = len({r["n_lf"] for r in rows if r["method"] != "npe"}) > 1
    lines = ["| HF simulations | " + " | ".join(_budget(b) for b in budgets) + " |",
             "|---" * (len(budgets) + 1) + "|"]
    keys = sorted({(r["method"], r["n_lf"]) for r in rows},
                  key=lambda k: (("npe", "mf_npe", "lf_npe").index(k[0]), -k[1]))
    for method, n_lf in keys:
        label = LABELS[method] + (f", {_budget(n_lf)} LF" if several and method != "npe" else "")
        cells = []
        for b in budgets:
            match = [r for r in rows if r["method"] == method and r["n_lf"] == n_lf
                     and r["n_hf"] == (0 if method == "lf_npe" else b)]
            shown = match and (method != "lf_npe" or b == budgets[0])
            cells.append(f"{match[0]['mean']:.2f} [{match[0]['ci_low']:.2f}, "
                         f"{match[0]['ci_high']:.2f}]" if shown else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _factor(value: float) -> str:
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


def saving_block(saving: list[dict], over_seeds: list[dict]) -> str:
    """The saving factor per MF-NPE budget (geometric mean over seeds, with its interval
    where every seed's factor is exact, '≥' for a lower bound) and the per-seed NPE
    budgets that reach MF-NPE's NLTP ('> B' beyond the largest NPE budget B)."""
    lines = []
    for n_lf in sorted({int(r["n_lf"]) for r in over_seeds}, reverse=True):
        mine = sorted((r for r in over_seeds if int(r["n_lf"]) == n_lf),
                      key=lambda r: int(r["n_hf"]))
        if not lines:
            lines = ["| MF-NPE budget | " + " | ".join(r["n_hf"] for r in mine) + " |",
                     "|---" * (len(mine) + 1) + "|"]
        cells = []
        for r in mine:
            if r["bound"] == "exact":
                cells.append(f"{_factor(float(r['saving']))}× [{_factor(float(r['ci_low']))}, "
                             f"{_factor(float(r['ci_high']))}]")
            else:
                sign = "≥" if r["bound"] == "lower" else "≤"
                cells.append(f"{sign} {_factor(float(r['saving']))}×")
        lines.append(f"| saving, {_budget(n_lf)} LF simulations | " + " | ".join(cells) + " |")
        budgets = []
        for r in mine:
            seeds = sorted((s for s in saving if s["n_lf"] == r["n_lf"] and s["n_hf"] == r["n_hf"]),
                           key=lambda s: int(s["seed"]))
            shown = [("> " if s["bound"] == "lower" else "< " if s["bound"] == "upper" else "")
                     + f"{float(s['npe_budget']):.0f}" for s in seeds]
            if len(set(shown)) == 1:
                budgets.append(f"{shown[0]} ({len(shown)})")
            else:
                budgets.append(", ".join(shown))
        lines.append(f"| NPE budget reaching the same NLTP, {_budget(n_lf)} LF (seeds) | "
                     + " | ".join(budgets) + " |")
    return "\n".join(lines)


def calibration_block(calibration: list[dict]) -> str:
    """Seeds passing, the smallest SBC p over seeds and parameters, the mean TARP ATC and the
    verdict of every model (calibration.csv)."""
    several = len({r["n_lf"] for r in calibration if r["method"] != "npe"}) > 1
    order = ("lf_npe", "mf_npe", "npe")
    rows = sorted(calibration, key=lambda r: (order.index(r["method"]), -int(r["n_lf"]),
                                              int(r["n_hf"])))
    lines = ["| model | seeds passing | smallest SBC p | TARP ATC | verdict |",
             "|---|---|---|---|---|"]
    for r in rows:
        label = SHORT[r["method"]]
        if several and r["method"] != "npe":
            label += f" ({_budget(int(r['n_lf']))} LF)"
        if r["method"] != "lf_npe":
            label += f", {r['n_hf']} HF"
        lines.append(f"| {label} | {r['n_pass']} / {r['n_seeds']} | {float(r['sbc_p_min']):.2g} "
                     f"| {float(r['tarp_atc']):+.3f} | {r['verdict']} |")
    return "\n".join(lines)


def observations_block(observations: list[dict], table: list[dict]) -> str:
    """HPD level of each recording's true θ, seeds 0 / 1 / 2, for MF-NPE and NPE at their
    largest HF budget and LF-NPE (italics: outside the 95 % region)."""
    rows = nltp_rows(table)
    n_lf = _largest_lf(rows)
    top = {m: max(r["n_hf"] for r in rows if r["method"] == m) for m in ("mf_npe", "npe")}
    models = [("mf_npe", n_lf, top["mf_npe"]), ("npe", 0, top["npe"]), ("lf_npe", n_lf, 0)]
    header = [f"{SHORT[m]}, {_budget(n_hf)} HF" if m != "lf_npe" else "LF-NPE"
              for m, _, n_hf in models]
    lines = ["| recording | θ true (gNa, gK, gL) | " + " | ".join(header) + " |",
             "|---" * (len(models) + 2) + "|"]
    for name in sorted({r["recording"] for r in observations}):
        mine = [r for r in observations if r["recording"] == name]
        first = mine[0]
        truth = ", ".join(f"{float(first[f'true_{p}']):g}" for p in ("gNa", "gK", "gL"))
        cells = []
        for method, lf, hf in models:
            seeds = sorted((r for r in mine if r["method"] == method and int(r["n_lf"]) == lf
                            and int(r["n_hf"]) == hf), key=lambda r: int(r["seed"]))
            cells.append(" / ".join(f"{float(r['hpd_level']):.2f}" if r["inside_95"] == "True"
                                    else f"*{float(r['hpd_level']):.2f}*" for r in seeds))
        lines.append(f"| {name} | {truth} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def blocks(summary: Path) -> dict[str, str]:
    table = read_csv(summary / "table.csv")
    return {"nltp": nltp_block(table),
            "saving": saving_block(read_csv(summary / "saving.csv"),
                                   read_csv(summary / "saving_over_seeds.csv")),
            "calibration": calibration_block(read_csv(summary / "calibration.csv")),
            "observations": observations_block(read_csv(summary / "observations.csv"), table)}


def rewrite(text: str, new_blocks: dict[str, str]) -> str:
    """``text`` with each block between its markers replaced (a missing marker: ValueError)."""
    for name, block in new_blocks.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise ValueError(f"the doc needs one '{start}' before one '{end}'")
        head, rest = text.split(start)
        text = head + start + "\n" + block + "\n" + end + rest.split(end, 1)[1]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summary", nargs="?", default="results/summary", type=Path)
    parser.add_argument("--doc", default=ROOT / "docs" / "results.md", type=Path)
    parser.add_argument("--headline", default=ROOT / "docs" / "headline.csv", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 where the files differ from the summary")
    args = parser.parse_args(argv)
    wanted = {args.headline: headline_csv(read_csv(args.summary / "table.csv")),
              args.doc: rewrite(args.doc.read_text(), blocks(args.summary))}
    stale = [path for path, text in wanted.items()
             if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} differs from {args.summary}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
