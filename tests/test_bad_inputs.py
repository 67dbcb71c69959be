"""The README's table of bad inputs, run as a user types each command.

Every row must end with exit status 1, the documented message, and no traceback; the
table in the README is the test's input, so the documentation cannot drift from what the
command says.
"""

from __future__ import annotations

import re
import shlex

import pytest

from tests.bad_input_files import write_bad_input_files
from tests.conftest import REPO, run_shiftlab


def readme_rows() -> list[tuple[str, str, str]]:
    text = (REPO / "README.md").read_text()
    table = text.split("<!-- bad-inputs:start -->")[1].split("<!-- bad-inputs:end -->")[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        name, command, message = cells
        rows.append((name, re.fullmatch(r"`(.*)`", command).group(1), message))
    return rows


ROWS = readme_rows()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    write_bad_input_files(root)
    return root


def test_the_table_covers_what_the_issue_lists():
    names = {name for name, _, _ in ROWS}
    for required in (
        "unknown option", "unknown key", "bad value", "missing data path", "empty dataset",
        "corrupt image", "NaN in input data", "inputs and targets of other shapes",
        "missing checkpoint", "checkpoint of another task", "unknown optimizer",
        "mask that does not match its image",
    ):  # fmt: skip
        assert required in names


@pytest.mark.parametrize(("name", "command", "message"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_gets_one_paragraph(name, command, message, files):
    words = shlex.split(command)
    assert words[0] == "shiftlab"
    proc = run_shiftlab(*words[1:], "trainer.max_epochs=1", cwd=files, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert message in output, output[-3000:]
    assert "Traceback" not in output
