"""The same labeling on Spark (local mode) as on DuckDB, row for row, from the same Parquet files."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pandas as pd
import pytest

from mof_experiments.engines import export_parquet, open_source
from mof_experiments.funnel import label
from mof_experiments.workspace import Workspace

SRC = Path(__file__).resolve().parents[1] / "src" / "mof_experiments"

pyspark = pytest.importorskip("pyspark", reason="the spark extra is installed by `make test`")


@pytest.fixture(scope="module")
def parquet_ws(simulated, tmp_path_factory):
    d = tmp_path_factory.mktemp("spark")
    ws_path = simulated(companies=600, seed=21)
    with Workspace(ws_path, read_only=True) as ws:
        export_parquet(ws, d / "parquet")
    return ws_path, d / "parquet"


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from mof_experiments.engines import spark_session

    s = spark_session("local[2]")
    yield s
    s.stop()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values("company_id").reset_index(drop=True)
    b = b.sort_values("company_id").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-12)


@pytest.mark.spark
def test_funnel_on_spark_equals_duckdb_row_for_row(parquet_ws, spark):
    ws_path, pq = parquet_ws
    with Workspace(ws_path, read_only=True) as ws:
        on_workspace = label(ws)
        duck = label(ws, source=open_source("duckdb", pq, workspace=ws))
        spk = label(ws, source=open_source("pyspark", pq, workspace=ws, spark=spark))
        early = "2026-03-20T12:00:00Z"
        spk_early = label(ws, early, min_success=3, source=open_source("pyspark", pq, workspace=ws, spark=spark))
        duck_early = label(ws, early, min_success=3)
    assert len(duck) == 600 and (duck["stage"] == "production").sum() > 100
    _same(on_workspace, duck)
    _same(duck, spk)
    _same(duck_early, spk_early)
    assert str(spk["first_production_at"].dtype) == "datetime64[us, UTC]"


def _names_in(path: Path, functions: set[str] | None = None) -> set[str]:
    """Attribute and function names used in a module (or in some of its functions)."""
    tree = ast.parse(path.read_text())
    nodes = [tree] if functions is None else [n for n in ast.walk(tree)
                                              if isinstance(n, ast.FunctionDef) and n.name in functions]
    out = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Attribute):
                out.add(n.attr)
            elif isinstance(n, ast.Name):
                out.add(n.id)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                out |= {a.name.split(".")[0] for a in n.names} | {getattr(n, "module", None) or ""}
    return out


ENGINE_SPECIFIC = {"duckdb", "raw", "raw_sql", "sql", "execute"}


def test_labeling_code_path_has_no_engine_specific_sql():
    """funnel_expr/report_expr must stay portable Ibis: no raw SQL, no DuckDB connection."""
    used = _names_in(SRC / "funnel.py", {"funnel_expr", "report_expr", "label"})
    assert not used & ENGINE_SPECIFIC, used & ENGINE_SPECIFIC
