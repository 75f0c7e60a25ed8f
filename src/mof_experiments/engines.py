"""Engine selection: where the heavy per-company aggregation runs.

Labeling (:func:`mof_experiments.funnel.funnel_expr`) and behavioral features
(:func:`mof_experiments.segments.behavior_expr`) are Ibis expressions over the canonical tables.
They read from a :class:`~mof_experiments.sources.TableSource`: the DuckDB
:class:`~mof_experiments.workspace.Workspace`, or an :class:`EngineSource` on another backend;
:func:`open_source` returns one or the other.
Results come back as pandas frames of one row per company and are written to the workspace as
before; only the aggregation runs on the engine.

Engines
-------
- ``duckdb`` (default): the workspace file itself; with ``source`` a directory of Parquet files,
  an in-memory DuckDB reading them.
- ``pyspark``: a Spark session (``local[2]`` unless ``MOF_SPARK_MASTER`` or ``master`` says
  otherwise) reading the canonical tables from Parquet under ``source``
  (``source/<table>.parquet`` or ``source/<table>/``).
- any Ibis connection URL (``bigquery://project/dataset``, ``snowflake://...``,
  ``duckdb:///path.db``): the canonical tables are read by name from that backend.
"""

from __future__ import annotations

import os
from pathlib import Path

from mof_experiments.atomic import atomic_path
from mof_experiments.errors import MofInputError

#: Tables that the engine serves (the heavy ones); everything else stays in the workspace.
ENGINE_TABLES = ("companies", "api_events")


class EngineSource:
    """Canonical tables served by an Ibis backend (a :class:`~mof_experiments.sources.TableSource`).

    Parameters
    ----------
    con : an Ibis backend.
    tables : mapping table name -> Ibis table.
    meta : facts such as ``simulated_end`` (taken from the workspace when there is one).
    engine : a label for messages (``pyspark``, ``duckdb``, a URL scheme).
    """

    def __init__(self, con, tables: dict, *, meta: dict | None = None, engine: str = ""):
        self.con = con
        self._tables = dict(tables)
        self._meta = dict(meta or {})
        self.engine = engine

    def table(self, name: str):
        if name not in self._tables:
            raise MofInputError(f"table {name!r} is not available on engine {self.engine} "
                                f"(has: {', '.join(sorted(self._tables))})")
        return self._tables[name]

    def has(self, name: str) -> bool:
        return name in self._tables

    def meta(self) -> dict:
        return dict(self._meta)

    def __repr__(self) -> str:
        return f"EngineSource({self.engine!r}, tables={sorted(self._tables)})"


def spark_session(master: str | None = None, app_name: str = "mof-experiments", conf: dict | None = None):
    """A Spark session for Ibis: UTC session time zone, no UI, driver bound to 127.0.0.1 by default.

    ``master`` defaults to ``$MOF_SPARK_MASTER`` or ``local[2]``. Extra Spark settings go in ``conf``.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MofInputError("the pyspark engine needs the spark extra: pip install -e '.[spark]'") from None
    b = (SparkSession.builder.master(master or os.environ.get("MOF_SPARK_MASTER", "local[2]"))
         .appName(app_name)
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", "8"))
    if (master or os.environ.get("MOF_SPARK_MASTER", "local")).startswith("local"):
        b = b.config("spark.driver.host", os.environ["SPARK_LOCAL_IP"])
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    session = b.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("MOF_SPARK_LOG_LEVEL", "ERROR"))
    return session


def _parquet_path(source: Path, table: str) -> str:
    for cand in (source / f"{table}.parquet", source / table):
        if cand.exists():
            return str(cand)
    raise MofInputError(f"no Parquet data for table {table} (expected {table}.parquet or {table}/)",
                        source=str(source))


def open_source(engine: str = "duckdb", source: str | os.PathLike | None = None, *, workspace=None,
                tables=ENGINE_TABLES, spark=None):
    """The :class:`~mof_experiments.sources.TableSource` that labeling and features read from.

    ``duckdb`` without ``source`` returns ``workspace`` itself; otherwise an
    :class:`EngineSource` serving ``tables`` (with the workspace's ``meta()``, so ``as_of``
    defaults the same way).

    Parameters
    ----------
    engine : ``duckdb``, ``pyspark`` or an Ibis connection URL.
    source : directory of Parquet files holding ``tables`` (required for ``pyspark``).
    workspace : the DuckDB workspace (its ``meta()`` supplies defaults such as ``as_of``).
    spark : an existing SparkSession to use instead of creating one.
    """
    import ibis

    meta = workspace.meta() if workspace is not None and getattr(workspace, "path", None) and \
        Path(workspace.path).exists() else {}
    if engine == "duckdb" and source is None:
        if workspace is None:
            raise MofInputError("the duckdb engine without --source needs a workspace")
        return workspace
    if engine in ("duckdb", "pyspark"):
        if source is None:
            raise MofInputError(f"--engine {engine} needs --source DIR (Parquet files of {', '.join(tables)}); "
                                "`mof export` writes them from a workspace")
        src = Path(source)
        if not src.is_dir():
            raise MofInputError("--source must be a directory of Parquet files", source=str(src))
        if engine == "duckdb":
            con = ibis.duckdb.connect()
            con.raw_sql("SET TimeZone = 'UTC'")
            read = {t: con.read_parquet(_glob(_parquet_path(src, t)), table_name=t) for t in tables}
        else:
            con = ibis.pyspark.connect(spark or spark_session())
            read = {t: con.read_parquet(_parquet_path(src, t), table_name=t) for t in tables}
        return EngineSource(con, read, meta=meta, engine=engine)
    if "://" in engine:
        try:
            con = ibis.connect(engine)
        except Exception as exc:
            raise MofInputError(f"cannot connect to engine {engine.split('://')[0]}://...: "
                                f"{' '.join(str(exc).split())[:200]}") from None
        return EngineSource(con, {t: con.table(t) for t in tables}, meta=meta, engine=engine.split("://")[0])
    raise MofInputError(f"unknown engine {engine!r} (use duckdb, pyspark or an Ibis connection URL)")


def _glob(path: str) -> str:
    return str(Path(path) / "*.parquet") if Path(path).is_dir() else path


def sql_string(value) -> str:
    """``value`` (e.g. a file path) as a SQL string literal: a folder may have a quote in its name."""
    return "'" + str(value).replace("'", "''") + "'"


def export_parquet(workspace, out_dir: str | os.PathLike, tables=ENGINE_TABLES) -> list[Path]:
    """Write workspace tables to ``out_dir/<table>.parquet`` (atomically, file by file)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for t in tables:
        if not workspace.has(t):
            raise MofInputError(f"table {t} not in workspace", source=str(workspace.path))
        dest = out / f"{t}.parquet"
        with atomic_path(dest) as tmp:
            workspace.raw.execute(f"COPY \"{t}\" TO {sql_string(tmp)} (FORMAT parquet, COMPRESSION zstd)")
        written.append(dest)
    return written
