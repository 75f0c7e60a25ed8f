"""`mof --help` and every group's help list each command with its whole first sentence."""

from __future__ import annotations

import pytest

from mof_experiments.cli import main
from mof_experiments.cli._app import first_sentence


def test_first_sentence_is_not_cut_at_an_abbreviation():
    assert first_sentence("Export tables to Parquet (e.g. to run `mof label`).\n\nMore.") == \
        "Export tables to Parquet (e.g. to run `mof label`)."
    assert first_sentence("Per arm: n, rate. Then more.") == "Per arm: n, rate."


@pytest.mark.parametrize(("args", "sentence"), [
    ([], "Simulate an API platform with known truth into a new workspace."),
    ([], "Export workspace tables to Parquet (e.g. to run `mof label --engine pyspark --source DIR`)."),
    (["report"], "Execute report notebooks into OUT/<UTC timestamp>/ (.ipynb + .html + manifest.json + index.html)."),
    (["experiment"], "Write one row per assigned company: arm, conversion within the window, pre-assignment behavior."),
])
def test_help_lists_whole_descriptions(capsys, args, sentence):
    assert main([*args, "--help"]) == 0
    out = capsys.readouterr().out
    commands = out.split("Commands:")[1]
    assert sentence in " ".join(commands.split())  # wrapped, never cut
    assert "..." not in commands
