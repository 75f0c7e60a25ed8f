"""The parameters of a simulation and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.errors import MofInputError
from mof_experiments.simulate.world import ZONES


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulation. Defaults are calibrated to the article (docs/simulator.md).

    ``design`` chooses the experiment's arms: ``holdout`` (``holdout`` 20% / ``email`` 80%:
    all nine emails), ``zones`` (``control`` plus one arm per content zone, equal weights) or
    ``content_test`` (``holdout`` 20% / ``email`` 80%, and in ``email`` each contact randomized
    to one of the six zones or the generic email: :mod:`~mof_experiments.simulate.content_test`).
    """

    companies: int = 3000
    seed: int = 42
    start: str = "2026-01-05"
    days: int = 180
    window_days: int = 30
    experiment_id: str = "mof_email_2026"
    design: str = "holdout"
    heterogeneous: bool = True
    effect_scale: float = 1.0
    intent_open_beta: float = 1.8
    open_shift: float = 0.0
    intent_conv_gamma: float = 1.6
    trigger_days: float = 2.0
    chunk_companies: int = 2000

    def arms(self) -> dict[str, tuple[float, tuple[str, ...]]]:
        if self.design in ("holdout", "behavioral"):  # behavioral: no email experiment (simulate/behavioral.py)
            return {"holdout": (0.2, ()), "email": (0.8, ZONES)}
        if self.design == "zones":
            w = 1.0 / (len(ZONES) + 1)
            return {"control": (w, ()), **{z: (w, (z,)) for z in ZONES}}
        if self.design == "content_test":
            return {"holdout": (0.2, ()), "email": (0.8, ZONES + ("generic",))}
        raise MofInputError(f"unknown design {self.design!r} (use holdout, zones, content_test or behavioral)")

    def validate(self) -> "SimConfig":
        if self.companies < 1:
            raise MofInputError(f"--companies must be at least 1, got {self.companies}")
        if self.days < self.window_days + 10:
            raise MofInputError(f"--days must be at least window_days + 10 = {self.window_days + 10}")
        try:
            self.start_ts
        except ValueError:
            raise MofInputError(f"--start must be a date like 2026-01-05, got {self.start!r}") from None
        self.arms()
        return self

    @property
    def start_ts(self) -> int:
        d = datetime.fromisoformat(self.start)
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        return int(d.timestamp())

    @property
    def end_ts(self) -> int:
        return self.start_ts + self.days * SECONDS_PER_DAY

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ts, tz=timezone.utc)


@dataclass
class SimResult:
    path: Path
    config: SimConfig
    counts: dict = field(default_factory=dict)

    def __str__(self) -> str:
        c = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        return f"simulated {self.config.companies:,} companies into {self.path} ({c}); observed until {self.config.end:%Y-%m-%d}"


__all__ = ["SimConfig", "SimResult"]
