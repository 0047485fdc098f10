"""The order of the test files for ``make test``'s two workers (tests/schedule.py): the
slowest files first, the rest most tests first, each file's tests together and in order."""

import re
from pathlib import Path
from types import SimpleNamespace

from schedule import SLOWEST_FIRST, file_order

TESTS = Path(__file__).resolve().parent


def fake_items(names: list[str]) -> list[SimpleNamespace]:
    """Stand-ins for collected tests (only ``path`` is read), numbered in collection order."""
    return [SimpleNamespace(path=TESTS / name, number=i) for i, name in enumerate(names)]


def test_every_slow_file_named_exists_and_holds_tests():
    assert len(set(SLOWEST_FIRST)) == len(SLOWEST_FIRST)
    for name in SLOWEST_FIRST:
        assert re.search(r"^def test_", (TESTS / name).read_text(), re.MULTILINE), name


def test_slowest_files_first_then_most_tests_first_each_file_in_its_order():
    slow, slower = SLOWEST_FIRST[1], SLOWEST_FIRST[0]
    names = ["test_a.py", slow, "test_b.py", "test_b.py", "test_a.py", slower, "test_c.py",
             "test_b.py", slow]
    ordered = file_order(fake_items(names))
    assert [item.path.name for item in ordered] == [
        slower, slow, slow, "test_b.py", "test_b.py", "test_b.py", "test_a.py", "test_a.py",
        "test_c.py"]
    within = [[item.number for item in ordered if item.path.name == name] for name in names]
    assert all(numbers == sorted(numbers) for numbers in within)


def test_make_keeps_the_order():
    """pytest-xdist reorders the files by their number of tests unless told not to."""
    targets = re.findall(r"^(test(?:-fast)?):.*\n\t(.*)", (TESTS.parent / "Makefile").read_text(),
                         re.MULTILINE)
    assert [name for name, _ in targets] == ["test", "test-fast"]
    for name, command in targets:
        assert "--dist loadfile --no-loadscope-reorder" in command, name


def test_the_tiny_runs_file_leads_and_the_next_two_do_not_wait_for_it():
    """The first file makes the session's tiny run; the second and third (which the other
    worker takes while it runs) use neither it nor a copy of it."""
    def reads_tiny_run(name):
        return re.search(r"\b(tiny_run|copied_run)\b", (TESTS / name).read_text()) is not None

    assert reads_tiny_run(SLOWEST_FIRST[0])
    assert not any(reads_tiny_run(name) for name in SLOWEST_FIRST[1:3])
