"""Simulation studies of the readout and the uplift models; prints tables (no asserts).

    .venv/bin/python benchmarks/experiments_studies.py            # A/B, A/A, SRM studies (seconds)
    .venv/bin/python benchmarks/experiments_studies.py --uplift   # + simulator and Hillstrom uplift (minutes)

1. Coverage of the 95% Newcomb CI of the lift and power, over many simulated A/B tests.
2. False-positive rate of the score test over A/A tests.
3. SRM detection rate of injected splits.
4. Uplift on the simulator (T/X learners, cross-fitted): Qini vs its random band, Spearman with
   the true uplift, for several effect scales and seeds.
5. Hillstrom (if found): Qini of a T-learner for Womens E-Mail vs No E-Mail on visit, against
   the random band.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mof_experiments.experiments import compare_proportions, srm_test


def ab_studies(runs: int = 2000, seed: int = 0) -> pd.DataFrame:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    rng = np.random.default_rng(seed)
    rows = []
    for n, p0, p1 in [(500, 0.05, 0.05), (2000, 0.10, 0.10), (2000, 0.10, 0.13), (10_000, 0.02, 0.025),
                      (400, 0.30, 0.36), (20_000, 0.0057, 0.0088)]:
        x1, x0 = rng.binomial(n, p1, runs), rng.binomial(n, p0, runs)
        r = compare_proportions(x1, np.full(runs, n), x0, np.full(runs, n))
        cover = ((r.lift_ci_low <= p1 - p0) & (p1 - p0 <= r.lift_ci_high)).mean()
        reject = (r.p_value < 0.05).mean()
        power = NormalIndPower().power(proportion_effectsize(p1, p0), nobs1=n, alpha=0.05) if p1 != p0 else 0.05
        rows.append({"n_per_arm": n, "p_control": p0, "p_treatment": p1, "runs": runs, "ci_coverage": cover,
                     "rejection_rate": reject, "nominal_power_or_alpha": power})
    return pd.DataFrame(rows)


def srm_studies(runs: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for n, share in [(20_000, 0.50), (20_000, 0.51), (20_000, 0.52), (2_000, 0.52), (100_000, 0.505)]:
        k = rng.binomial(n, share, runs)
        st = [srm_test({"a": int(a), "b": n - int(a)}).status for a in k]
        rows.append({"n": n, "share_a": share, "runs": runs, "warning_or_blocking": np.mean([s != "ok" for s in st]),
                     "blocking": np.mean([s == "blocking" for s in st])})
    return pd.DataFrame(rows)


def uplift_studies(configs, seeds) -> pd.DataFrame:
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from mof_experiments.experiments import experiment_outcomes
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.simulate import SimConfig, simulate
    from mof_experiments.uplift import TLearner, XLearner, cross_fit_predict, uplift_score
    from mof_experiments.workspace import Workspace

    def lin(est):
        return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), est)

    models = {"T-learner (logistic)": TLearner(lin(LogisticRegression(C=0.3, max_iter=500))),
              "X-learner (logistic + ridge)": XLearner(lin(LogisticRegression(C=0.3, max_iter=500)),
                                                       lin(Ridge(alpha=10.0))),
              "X-learner (default HGB)": XLearner()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kw in configs:
            for seed in seeds:
                path = Path(tmp) / f"s{seed}_{len(rows)}.duckdb"
                cfg = SimConfig(seed=seed, **kw)
                simulate(cfg, path, progress=False)
                with Workspace(path, read_only=True) as ws:
                    d = experiment_outcomes(ws, cfg.experiment_id, as_of=resolve_as_of(ws))
                    eff = ws.read("sim_effects").pivot(index="company_id", columns="arm", values="p_convert")
                true = (eff["email"] - eff["holdout"]).reindex(d["company_id"]).to_numpy()
                feats = d.columns[d.columns.get_loc("calls"):]
                X = d[feats].fillna(0).to_numpy(float)
                y, t = d["converted"].to_numpy(), (d["arm"] == "email").astype(int).to_numpy()
                for name, m in models.items():
                    pred = cross_fit_predict(m, X, y, t, folds=2, random_state=0)
                    s = uplift_score(y, pred, t, n_permutations=200, n_bootstrap=100, random_state=0)
                    rows.append({**kw, "seed": seed, "enrolled": len(y), "model": name, "qini": s.score,
                                 "random_high": s.random_high, "above_band": s.above_random,
                                 "spearman_true": spearmanr(pred, true).statistic})
                print(pd.DataFrame(rows).tail(len(models)).to_string(index=False), file=sys.stderr)
    return pd.DataFrame(rows)


def hillstrom_uplift(path) -> pd.DataFrame:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mof_experiments.datasets import load_hillstrom
    from mof_experiments.uplift import TLearner, XLearner, cross_fit_predict, uplift_score

    h = load_hillstrom(path)
    rows = []
    for arm in ("Womens E-Mail", "Mens E-Mail"):
        m = h.arm.isin([arm, "No E-Mail"]).to_numpy()
        X = h.features.to_numpy(float)[m]
        t = (h.arm[m] == arm).astype(int).to_numpy()
        for outcome in ("visit", "conversion"):
            y = getattr(h, outcome).to_numpy()[m]
            for name, model in [("T-learner", TLearner(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)))),
                                ("X-learner", XLearner())]:
                pred = cross_fit_predict(model, X, y, t, folds=2, random_state=0)
                s = uplift_score(y, pred, t, n_permutations=100, n_bootstrap=100, random_state=0)
                rows.append({"arm": arm, "outcome": outcome, "model": name, "qini": s.score, "ci_low": s.ci_low,
                             "ci_high": s.ci_high, "random_low": s.random_low, "random_high": s.random_high,
                             "above_band": s.above_random})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uplift", action="store_true", help="also run the (slower) uplift studies")
    ap.add_argument("--hillstrom", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "hillstrom"))
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    t0 = time.time()
    print("## A/B and A/A studies (Newcomb CI, score test)\n", ab_studies().to_string(index=False), "\n")
    print("## SRM detection (chi-square; warning p<0.01, blocking p<0.001)\n", srm_studies().to_string(index=False), "\n")
    if args.uplift:
        cfgs = [dict(companies=20000, effect_scale=1.0),
                dict(companies=6000, effect_scale=2.0), dict(companies=6000, effect_scale=1.0),
                dict(companies=6000, heterogeneous=False, effect_scale=1.0),
                dict(companies=6000, heterogeneous=False, effect_scale=0.0)]
        print("## Uplift on the simulator (2-fold cross-fitted)\n",
              uplift_studies(cfgs, seeds=[5, 6]).to_string(index=False, float_format=lambda v: f"{v:.3f}"), "\n")
        if Path(args.hillstrom).exists():
            print("## Hillstrom uplift (2-fold cross-fitted)\n",
                  hillstrom_uplift(args.hillstrom).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
