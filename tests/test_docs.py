"""The documentation is navigable: a short README, the docs it links to, valid relative
links, no reference outside the repository, method.md's sections as the code cites them,
and every number of docs/results.md next to the command that reproduces it."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ["config/README.md", "docs/method.md", "docs/results.md", "docs/cluster.md",
        "docs/library.md"]
# built from parts, so that this file does not cite them itself
OUTSIDE = ("DESIGN" + ".md", "../" + "shared")
METHOD_SECTIONS = ["The neuron", "Fidelities", "Features", "Inference", "Evaluation", "Files"]

LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
REPRODUCE = re.compile(r"^Reproduce:.*`[^`]+`")


def markdown_files():
    names = ["README.md", *DOCS, *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]
    return [ROOT / name for name in dict.fromkeys(names) if (ROOT / name).exists()]


def repository_files():
    """Tracked files and untracked ones git does not ignore (new docs before their commit)."""
    run = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted({name for name in run.stdout.split("\0") if name})


def without_code(text, inline=True):
    """``text`` with fenced code blocks (and inline code) blanked; newlines are kept, so
    offsets still give line numbers."""
    lines, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            lines.append("")
        else:
            lines.append("" if inside else line)
    prose = "\n".join(lines)
    if inline:
        prose = re.sub(r"`[^`]*`", lambda m: "\n" * m.group(0).count("\n"), prose)
    return prose


def links(text):
    """(line number, target) of every markdown link or image outside code; a link may
    break across lines."""
    prose = without_code(text)
    return [(prose.count("\n", 0, match.start()) + 1, match.group(1))
            for match in LINK.finditer(prose)]


def headings(text):
    """Headings of a markdown text (outside code blocks): [(level, title)]."""
    return [(len(m.group(1)), m.group(2)) for m in
            re.finditer(r"^(#{1,6})\s+(.*?)\s*#*\s*$", without_code(text, inline=False),
                        re.MULTILINE)]


def github_anchor(title):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    title = re.sub(r"[*_`]", "", title.strip().lower())
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines (at most 200)"


@pytest.mark.parametrize("name", DOCS)
def test_doc_exists(name):
    assert (ROOT / name).is_file(), f"{name} is missing"


def test_no_file_refers_outside_the_repository():
    offenders = []
    for name in repository_files():
        path = ROOT / name
        if not path.is_file():  # deleted in the working tree, or a submodule
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):  # binary
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for needle in OUTSIDE:
                if needle in line:
                    offenders.append(f"{name}:{number}: {needle}")
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


def test_relative_links_point_at_existing_files():
    broken = []
    for path in markdown_files():
        for number, target in links(path.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{number}: {target}"
            if not linked.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and linked.suffix == ".md":
                anchors = {github_anchor(title) for _, title in headings(linked.read_text())}
                if anchor not in anchors:
                    broken.append(f"{where} (no such section)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_method_has_the_sections_the_code_cites():
    titles = {title for level, title in headings((ROOT / "docs/method.md").read_text())
              if level == 2}
    cited = set(METHOD_SECTIONS)
    for name in repository_files():
        if not name.endswith((".py", ".yaml", ".yml", ".smk", ".md", ".rst")):
            continue
        path = ROOT / name
        if path.is_file():
            cited |= set(re.findall(r'docs/method\.md, "([^"]+)"', path.read_text()))
    assert cited <= titles, f"docs/method.md lacks the sections {sorted(cited - titles)}"


def results_sections(text):
    """{heading: body} of docs/results.md, a section running from one ## or ### heading to
    the next (outside code blocks); HTML comments (the table markers) dropped."""
    sections, current, inside = {}, None, False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        heading = None if inside else re.match(r"^#{2,3}\s+(.*)$", line)
        if heading:
            current = heading.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {title: re.sub(r"<!--.*?-->", "", "\n".join(body), flags=re.DOTALL)
            for title, body in sections.items()}


def test_every_number_of_the_results_has_its_command():
    text = (ROOT / "docs/results.md").read_text()
    assert "Reproduce:" in text.split("\n## ", 1)[0], "results.md must state its convention"
    sections = results_sections(text)
    assert sections, "docs/results.md has no sections"
    missing = [title for title, body in sections.items()
               if re.search(r"\d", body)
               and not any(REPRODUCE.match(line) for line in body.splitlines())]
    assert not missing, ("sections of docs/results.md with numbers but no line "
                         f"'Reproduce: `command`': {missing}")


@pytest.mark.parametrize("name, marker", [("docs/results.md", "bench"),
                                          ("docs/results.md", "paper-jobs"),
                                          ("docs/results.md", "cortical-jobs"),
                                          ("docs/library.md", "example")])
def test_generated_and_tested_blocks_have_their_markers(name, marker):
    text = (ROOT / name).read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    assert text.count(start) == 1 and text.count(end) == 1, f"{name}: {marker} markers"
    assert text.index(start) < text.index(end)


def test_bench_table_rewrites_only_the_table_between_its_markers(tmp_path):
    results = {
        "machine": {"platform": "test-platform"},
        "lf": [{"model": "edge_langevin", "dt_ms": 0.025, "n_simulations": 4000,
                "neuron_steps_per_s": 12.34e6}],
        "hf": [{"method": "markov", "area_um2": 100.0, "s_per_simulation": 0.0661,
                "ns_per_event": 87.0, "events_per_simulation": 0.76e6}],
        "training": {"n_simulations": 10000, "s_per_epoch_per_10k": 1.23, "n_test": 200,
                     "s_sampling_1000_per_test": 4.5},
        "converged_training": [{"n_simulations": 100000, "batch_size": 200, "learning_rate": 5e-4,
                                "epochs": 81, "s_per_epoch": 5.321, "s_training": 431.2}],
        "neuron_models": [
            {"neuron": "pospischil_rs", "fidelity": "hf", "method": "markov", "area_um2": 1000.0,
             "s_per_simulation": 0.271, "s_per_simulated_s": 2.26, "ns_per_event": 64.0,
             "events_per_simulation": 4.2e6}],
    }
    (tmp_path / "bench.json").write_text(json.dumps(results))
    doc = tmp_path / "results.md"
    original = (ROOT / "docs" / "results.md").read_text()
    doc.write_text(original)
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_table.py"),
                          str(tmp_path / "bench.json"), str(doc)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = doc.read_text()
    table = text.split("<!-- bench:start -->")[1].split("<!-- bench:end -->")[0]
    assert "12.3 M neuron-steps/s" in table and "87 ns per event" in table
    assert "0.066 s per 120 ms simulation" in table and "test-platform" in table
    assert ("| pretraining to its stop (default experiment) | 100000 LF simulations, batch 200, "
            "lr 0.0005 | 81 epochs, 5.32 s per epoch, 431 s in all |") in table
    assert ("| pospischil_rs | `markov` (HF) | A = 1000 µm², dt 0.01 ms | 64 ns per event, "
            "0.271 s per 120 ms simulation, 2.26 s per simulated s (4.20 M events) |") in table
    before, after = original.split("<!-- bench:start -->"), text.split("<!-- bench:start -->")
    assert before[0] == after[0]
    assert before[1].split("<!-- bench:end -->")[1] == after[1].split("<!-- bench:end -->")[1]


# ---- config/README.md's key tables: written from the config schema ----

def config_tables_tool():
    """The module tools/config_tables.py."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("config_tables",
                                                  ROOT / "tools" / "config_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
CONFIG_README = ROOT / "config" / "README.md"


def test_config_readme_key_tables_are_the_schemas():
    """Edit the schema, then run ``python tools/config_tables.py``."""
    text = CONFIG_README.read_text()
    assert config_tables_tool().rewrite(text, SCHEMA) == text


def schema_keys(node, path=()):
    """Every key of a schema node, as paths (``$ref`` followed, a mapping of free names's
    entries under ``<name>``)."""
    if "$ref" in node:
        node = {**SCHEMA["$defs"][node["$ref"].split("/")[-1]], **node}
    keys = []
    for name, child in node.get("properties", {}).items():
        keys.append((*path, name))
        keys += schema_keys(child, (*path, name))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "propertyNames" in node:
        keys += schema_keys(extra, (*path, "<name>"))
    return keys


def test_every_schema_key_is_in_config_readme():
    rows = re.findall(r"^\| `([^`]+)` \|", CONFIG_README.read_text(), re.MULTILINE)
    paths = [tuple(row.replace("\\|", "|").split(".")) for row in rows]

    def matches(key, path):  # a row of the key, or of a key below it
        return len(key) <= len(path) and all(
            k == p or (p.startswith("<") and (p == "<name>" or k in p[1:-1].split("|")))
            for k, p in zip(key, path))

    keys = schema_keys(SCHEMA)
    assert ("model", "name") in keys and ("model", "tau_max") in keys
    assert ("inference", "npe", "learning_rate") in keys
    missing = [".".join(key) for key in keys if not any(matches(key, p) for p in paths)]
    assert missing == []


def test_the_table_tool_checks_and_rewrites_only_between_markers(tmp_path):
    doc = tmp_path / "README.md"
    original = CONFIG_README.read_text()
    stale = original.replace("| `shards.lf` | integer ≥ 1 | 2500 |", "| `shards.lf` | integer | 1 |")
    assert stale != original
    doc.write_text(stale)
    tool = [sys.executable, str(ROOT / "tools" / "config_tables.py"), "--doc", str(doc)]
    check = subprocess.run([*tool, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "key tables of shards differ" in check.stderr
    assert doc.read_text() == stale  # --check changes nothing
    assert subprocess.run(tool, capture_output=True, text=True).returncode == 0
    assert doc.read_text() == original
    with pytest.raises(ValueError, match="'<!-- keys-traces:start -->'"):
        config_tables_tool().rewrite(original.replace("<!-- keys-traces:start -->", ""), SCHEMA)
