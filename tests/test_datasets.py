"""The Hillstrom loader: quirks of the original file, and one-line errors on bad copies."""

from __future__ import annotations

import numpy as np
import pytest

from mof_experiments.datasets import load_hillstrom
from mof_experiments.errors import MofInputError

HEADER = "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend"


def test_loads_the_original_file(hillstrom_csv):
    h = load_hillstrom(hillstrom_csv)
    assert len(h.data) == 64_000
    assert "Surburban" not in set(h.data["zip_code"]) and (h.data["zip_code"] == "Suburban").sum() == 28_776
    assert "2) $100 - $200" in set(h.data["history_segment"])  # quoted $ labels survive, no \r left
    assert not h.data["spend"].isna().any() and h.data["segment"].str.endswith("\r").sum() == 0
    assert h.treatment.sum() == 21_307 + 21_387
    assert h.features.shape == (64_000, 18) and all(np.issubdtype(d, np.number) for d in h.features.dtypes)
    s = h.summary.set_index("arm")
    assert round(s.loc["Womens E-Mail", "visit"], 4) == 0.1514


def test_folder_path_is_accepted(hillstrom_csv):
    assert len(load_hillstrom(hillstrom_csv.parent).data) == 64_000


def _write(tmp_path, rows):
    p = tmp_path / "h.csv"
    p.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode())
    return p


def test_small_crlf_copy_with_typo(tmp_path):
    p = _write(tmp_path, ['10,"2) $100 - $200",142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0',
                          '6,"3) $200 - $350",329.08,1,1,Rural,1,Web,No E-Mail,1,1,25.5'])
    h = load_hillstrom(p)
    assert h.data["zip_code"].tolist() == ["Suburban", "Rural"]
    assert h.conversion.tolist() == [0, 1] and h.spend.tolist() == [0.0, 25.5]
    assert h.data["history_segment"].tolist() == ["2) $100 - $200", "3) $200 - $350"]


def test_unknown_arm_names_the_row(tmp_path):
    p = _write(tmp_path, ['10,"2) $100 - $200",142.44,1,0,Rural,0,Phone,Kids E-Mail,0,0,0'])
    with pytest.raises(MofInputError, match=r"column 'segment': unknown arm .* row 1: 'Kids E-Mail'"):
        load_hillstrom(p)


def test_non_binary_visit_names_the_row(tmp_path):
    p = _write(tmp_path, ['10,"2) $100 - $200",142.44,1,0,Rural,0,Phone,No E-Mail,0,0,0',
                          '10,"2) $100 - $200",142.44,1,0,Rural,0,Phone,No E-Mail,2,0,0'])
    with pytest.raises(MofInputError, match=r"column 'visit': expected 0/1 \(e.g. row 2"):
        load_hillstrom(p)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(MofInputError, match="file not found"):
        load_hillstrom(tmp_path / "nope.csv")
