"""What the end of a run says (mfnpe.observation.run_summary): per recording of a small
observations table its verdict, measure of fit, per-sweep shares and figures, on the
console and at the top of the HTML report; in words when there is nothing to say."""

import pandas as pd
from docutils.core import publish_parts

from mfnpe.observation.run_summary import (NO_RECORDINGS, console_text, report_text,
                                           run_outcome, sweep_shares)

FIT = {"fit_spikes_worst": 0.34, "fit_all_worst": 0.12, "fit_silent_worst": 0.2,
       "fit_blocked_worst": 0.05, "fit_prestim_worst": 0.0, "fit_invalid": 0.01,
       "fit_map_spikes_worst": 0.6, "fit_map_all_worst": 0.3}


def observations_table(tmp_path):
    """Two recordings: 'cell' under two sweeps (NPE and MF-NPE fitted), 'odd' flagged,
    without a fit."""
    verdict = {"recording": "cell", "misspecification_p": 0.05,
               "misspecification_flagged": False}
    rows = [
        {**verdict, "method": "npe", **FIT, "fit_spikes_worst": 0.1,
         "fit_within_spike_count@2": 0.1, "fit_within_rest_mean@2": 0.9},
        {**verdict, "method": "mf_npe", **FIT,
         "fit_within_spike_count@2": 0.34, "fit_within_rest_mean@2": 0.8,
         "fit_within_ap_peak@2": 0.5, "fit_within_spike_count@3": 0.7,
         "fit_within_rest_mean@3": 1.0, "fit_within_ap_peak@3": 0.25},
        {"recording": "odd", "method": "mf_npe", "misspecification_p": 0.0099,
         "misspecification_flagged": True},
    ]
    path = tmp_path / "observations.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_the_console_names_each_recording_its_verdict_fit_per_sweep_and_figures(tmp_path):
    table = observations_table(tmp_path)
    pairplot, ppc = tmp_path / "cell_pairplot.png", tmp_path / "cell_ppc.png"
    pairplot.write_bytes(b"png")  # the predictive check was not drawn: not listed
    outcome = run_outcome(table, {"cell": [str(pairplot), str(ppc)],
                                  "odd": [str(tmp_path / "odd_ppc.png")]})
    text = console_text(outcome)
    lines = text.splitlines()
    assert str(table) in lines[0] and "misspecification verdict" in lines[0]
    assert lines[1] == ("  cell: typical (p = 0.05); MF-NPE worst sweep: 34 % within ±20 % "
                        "spikes, 12 % all features, silent 20 %, block 5 %, pre-stim. 0 %, "
                        "invalid 1 %; at the MAP 60 % / 30 %")
    # MF-NPE's shares, not NPE's, and per sweep in the table's order
    assert lines[2] == ("    within tolerance per sweep: sweep 2: spikes 34 %, rest 80 %, "
                        "AP peak 50 %; sweep 3: spikes 70 %, rest 100 %, AP peak 25 %")
    assert lines[3] == f"    figures: {pairplot} (SVG beside each)"
    assert lines[4] == "  odd: ATYPICAL, flagged (p = 0.0099); no measure of fit"
    assert len(lines) == 5  # odd has no fit and no figure yet
    assert "Series" not in text


def test_sweep_shares_follow_the_feature_order_and_a_single_step_has_no_sweep_label():
    assert sweep_shares({"fit_within_rest_mean": "0.5", "fit_within_spike_count": "0.25",
                         "fit_within_isi_cv": "1.0"}) == "spikes 25 %, rest 50 %"
    assert sweep_shares({"fit_within_ap_peak@1": "nan"}) == "sweep 1: AP peak n/a"
    assert sweep_shares({"fit_within_spike_count@1": ""}) == ""
    assert sweep_shares({}) == ""


def test_with_no_recordings_it_says_so_in_words(tmp_path):
    outcome = run_outcome(tmp_path / "observations.csv", {})
    assert console_text(outcome) == f"Recordings: {NO_RECORDINGS}.\n"
    assert NO_RECORDINGS in report_text(outcome)
    configured = run_outcome(tmp_path / "observations.csv", {"cell": []})
    text = console_text(configured)
    assert "1 recording(s) configured" in text and "does not exist yet" in text
    empty = tmp_path / "empty.csv"
    empty.write_text("recording,method\n")
    assert console_text(run_outcome(empty, {"cell": []})) == (
        f"Recordings: {empty} holds no recording.\n")


def test_the_report_text_is_valid_rst_with_an_item_per_recording(tmp_path):
    table = observations_table(tmp_path)
    figure = tmp_path / "cell_ppc.png"
    figure.write_bytes(b"png")
    text = report_text(run_outcome(table, {"cell": [str(figure)], "odd": []}))
    html = publish_parts(text, writer="html",
                         settings_overrides={"halt_level": 2})["html_body"]
    assert html.count("<li>") == 2 and "What this run found." in html
    assert "cell: typical (p = 0.05); MF-NPE worst sweep" in html
    assert "odd: ATYPICAL, flagged (p = 0.0099)" in html
    assert f"<span class=\"pre\">{figure}</span>" in html
    assert "sweep 3: spikes 70 %" in html
    empty = publish_parts(report_text(run_outcome(tmp_path / "none.csv", {})),
                          writer="html", settings_overrides={"halt_level": 2})
    assert "no recordings" in empty["html_body"]
