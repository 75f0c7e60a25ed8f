"""The behavior features run unchanged on Spark (Ibis pyspark backend) and equal DuckDB's."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pandas as pd
import pytest

from mof_experiments.workspace import Workspace

SRC = Path(__file__).resolve().parents[1] / "src" / "mof_experiments" / "segments" / "behavior.py"


def test_behavior_code_has_no_engine_specific_calls():
    """behavior_expr/behavior use portable Ibis only: no raw SQL, no DuckDB connection."""
    names = {n.attr for n in ast.walk(ast.parse(SRC.read_text())) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(ast.parse(SRC.read_text())) if isinstance(n, ast.Name)}
    assert not names & {"duckdb", "raw", "raw_sql", "sql", "execute", "con"}


@pytest.mark.spark
def test_behavior_on_spark_equals_duckdb_row_for_row(simulated, tmp_path):
    pytest.importorskip("pyspark", reason="the spark extra is installed by `make test`")
    from mof_experiments.engines import export_parquet, open_source, spark_session
    from mof_experiments.segments import behavior

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    path = simulated(companies=300, seed=5)
    spark = spark_session("local[2]")
    try:
        with Workspace(path, read_only=True) as ws:
            export_parquet(ws, tmp_path / "parquet")
            src = open_source("pyspark", tmp_path / "parquet", workspace=ws, spark=spark)
            duck = behavior(ws, "2026-04-20")
            spk = behavior(ws, "2026-04-20", source=src)
    finally:
        spark.stop()
    assert len(duck) > 200 and list(duck.columns) == list(spk.columns)
    pd.testing.assert_frame_equal(duck, spk, check_exact=False, rtol=1e-12)
