"""Table sources: what the analyses read from, and the ``as_of`` every analysis is given.

A :class:`TableSource` is anything with ``table(name)`` (an Ibis table expression),
``has(name)`` and ``meta()`` (facts about the data, such as ``simulated_end``). Two implement
it: the DuckDB :class:`~mof_experiments.workspace.Workspace` and an
:class:`~mof_experiments.engines.EngineSource` (Spark, another DuckDB, any Ibis backend);
:func:`mof_experiments.engines.open_source` always returns one of them.

``as_of`` rule (resolved **once**, at the boundary: the command line, the report loader, a
public entry point given ``None``): the value given, parsed by
:func:`~mof_experiments.dates.parse_as_of`; if none, the end of the simulated period when the
source is a simulation (``meta()["simulated_end"]``); otherwise now (UTC, whole seconds). The
resolved ``datetime`` is then passed explicitly to every analysis; nothing rebuilds it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

from mof_experiments.dates import parse_as_of


@runtime_checkable
class TableSource(Protocol):
    """Canonical tables as Ibis expressions, plus facts about them."""

    def table(self, name: str):
        """The Ibis table ``name`` (a one-line ``MofInputError`` when absent)."""

    def has(self, name: str) -> bool:
        """Whether the table ``name`` is available."""

    def meta(self) -> dict:
        """Key/value facts about the data (e.g. ``simulated_end``); ``{}`` if none."""


def default_as_of(source: TableSource | None) -> datetime:
    """The end of the simulated period for a simulation, else now (UTC, whole seconds)."""
    meta = source.meta() if source is not None else {}
    if "simulated_end" in meta:
        return parse_as_of(meta["simulated_end"])
    return datetime.now(timezone.utc).replace(microsecond=0)


def resolve_as_of(source: TableSource | None, value=None) -> datetime:
    """The ``as_of`` of a run: ``value`` parsed, or :func:`default_as_of` when ``value`` is
    None or empty (see the module's rule)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default_as_of(source)
    return parse_as_of(value)


__all__ = ["TableSource", "default_as_of", "resolve_as_of"]
