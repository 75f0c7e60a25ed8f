"""Experiment commands: ``mof assign`` and ``mof experiment readout``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from mof_experiments.cli._app import app, as_of_option, echo_err, resolve_workspace, workspace_option

experiment_app = typer.Typer(help="Read out experiments (A/B/n tests) from any CSV/Parquet file or workspace table.",
                             no_args_is_help=True, rich_markup_mode=None)
app.add_typer(experiment_app, name="experiment")


@app.command()
def assign(
    experiment: str = typer.Argument(..., help="Experiment id (e.g. mof_email_2026); part of the hash."),
    arms: str = typer.Option(..., "--arms", help="Arms and weights, e.g. control=0.2,treatment=0.8 "
                                                 "(weights are normalized to sum to 1)."),
    global_holdout: Optional[float] = typer.Option(
        None, "--global-holdout",
        help="Share of ALL companies kept out of every campaign (e.g. 0.05), fixed once set. Held-out "
             "companies are recorded under experiment 'global_holdout' (arm holdout; the others 'eligible') "
             "and never assigned to an experiment."),
    control: Optional[str] = typer.Option(None, "--control",
                                          help="Control arm(s), never emailed (comma-separated). Default: the "
                                               "arm named control or holdout."),
    cohort: Optional[Path] = typer.Option(None, "--cohort",
                                          help="CSV/Parquet with a company_id column: assign only these "
                                               "companies (default: every company in the workspace)."),
    stage: Optional[List[str]] = typer.Option(None, "--stage",
                                              help="Only companies at this funnel stage (signed_up, sandbox, "
                                                   "production; repeatable). Needs `mof label` first."),
    stratify: Optional[str] = typer.Option(None, "--stratify", "--strata",
                                           help="Column of companies (e.g. plan) or of the funnel table (e.g. "
                                                "stage): arms are balanced within each value. With --unit contact: "
                                                "persona (the default there)."),
    unit: str = typer.Option("company", "--unit",
                             help="What is randomized: company (default; table assignments) or contact (table "
                                  "contact_assignments; needs --within)."),
    within: Optional[str] = typer.Option(None, "--within",
                                         help="With --unit contact: PARENT_EXPERIMENT:ARM, e.g. mof_content:email. "
                                              "Only the contacts of the companies in that (non-control) arm are "
                                              "assigned, each persona's contacts balanced across the arms to within "
                                              "one contact; never the parent's holdout, the global holdout or "
                                              "contacts suppressed at assignment. Needs `mof segment` (personas)."),
    salt: str = typer.Option("mof-v1", "--salt", help="Hash salt; change it only to re-randomize on purpose."),
    workspace: Optional[Path] = workspace_option(),
):
    """Assign companies (or, with --unit contact, contacts) to arms by salted hashing and record
    them in `assignments` (or `contact_assignments`).

    Companies: all in the workspace, or those of --cohort, restricted to --stage if given.

    Deterministic: sha256("SALT:EXPERIMENT:UNIT") -> u in [0,1) -> arm by cumulative weights.
    Re-running keeps existing rows and appends only units not yet assigned; the arms are
    registered in `experiment_arms` (control arms flagged, never emailed).

    A zone test on real customers: `mof assign mof_content --arms holdout=0.2,email=0.8`, `mof
    segment`, then `mof assign mof_zone --unit contact --within mof_content:email --arms
    feature_highlight=1,assistance=1,case_study=1,roi_calculation=1,security=1,compliance=1,generic=1`:
    each emailed contact gets one zone, balanced within persona; a campaign of experiment mof_zone
    sends a contact only the campaign of its own zone (docs/reports.md, "On real customers").
    """
    from mof_experiments.checks import require_columns
    from mof_experiments.errors import MofConfigError
    from mof_experiments.experiments import assign_contacts_workspace, assign_workspace
    from mof_experiments.workspace import Workspace, read_input_file

    if unit not in ("company", "contact"):
        raise MofConfigError(f"--unit must be company or contact, got {unit!r}")
    if unit == "contact":
        if within is None:
            raise MofConfigError("--unit contact needs --within PARENT_EXPERIMENT:ARM (e.g. mof_content:email)")
        given = [o for o, v in (("--global-holdout", global_holdout), ("--cohort", cohort), ("--stage", stage)) if v]
        if given:
            raise MofConfigError(f"{given[0]} is for company-level assignment; with --unit contact the parent arm "
                                 "(--within) decides who is assigned")
        with Workspace(resolve_workspace(workspace), must_exist=True) as ws:
            result = assign_contacts_workspace(ws, experiment, arms, within=within, control=control, salt=salt,
                                               stratify=stratify or "persona")
        typer.echo(str(result))
        return
    if within is not None:
        raise MofConfigError("--within needs --unit contact (it randomizes contacts within a company arm)")
    ids = None
    if cohort is not None:
        df = read_input_file(cohort)
        require_columns(df, ["company_id"], str(cohort))
        ids = df["company_id"].dropna().astype("str").tolist()
    with Workspace(resolve_workspace(workspace), must_exist=True) as ws:
        result = assign_workspace(ws, experiment, arms, control=control, global_holdout=global_holdout,
                                  company_ids=ids, stages=stage, stratify=stratify, salt=salt)
    for w in result.warnings():
        echo_err(f"mof: warning: {w}")
    typer.echo(str(result))


def _weights(spec: Optional[str]):
    if not spec:
        return None
    from mof_experiments.experiments import parse_arms

    return parse_arms(spec, option="--weights")


def _winsorize_option(specs: Optional[List[str]]):
    """``--winsorize``: ``Q`` (every mean outcome), ``COL`` (at the default quantile) or ``COL=Q``."""
    from mof_experiments.errors import MofConfigError

    out = {}
    for spec in specs or []:
        key, sep, q = spec.partition("=")
        key, q = key.strip(), q.strip()
        try:
            float(key)
            key, q = "*", key  # a bare quantile: every mean outcome
        except ValueError:
            pass
        if sep and not q:
            raise MofConfigError(f"--winsorize expects Q, COL or COL=Q, got {spec!r}")
        out[key] = q or None
    return out or None


@experiment_app.command("readout")
def readout_cmd(
    file: str = typer.Argument(..., help="CSV/Parquet/JSONL file with one row per unit, or workspace:TABLE "
                                         "(a table of --workspace, e.g. workspace:experiment_outcomes; its rows "
                                         "whose window is not complete are left out)."),
    arm: str = typer.Option(..., "--arm", help="Column holding the arm."),
    outcome: List[str] = typer.Option(..., "--outcome",
                                      help="Outcome column (repeatable; a repeated outcome counts once). 0/1 columns "
                                           "(also TRUE/FALSE) are read as rates, others as means; force with "
                                           "COL:rate or COL:mean."),
    control: str = typer.Option(..., "--control", help="Value of --arm that is the control."),
    weights: Optional[str] = typer.Option(None, "--weights",
                                          help="Design weights for the sample-ratio test, e.g. "
                                               "'No E-Mail=1,Mens E-Mail=1,Womens E-Mail=1'. Default: the weights "
                                               "registered in experiment_arms for a workspace:TABLE with one "
                                               "experiment_id, else an equal split."),
    cuped: Optional[List[str]] = typer.Option(None, "--cuped",
                                              help="OUTCOME=PRE_COLUMN: CUPED adjustment of a mean outcome by a "
                                                   "pre-period covariate (repeatable)."),
    correction: str = typer.Option("holm", "--correction",
                                   help="Multiple-testing correction across arms x outcomes (and across the cells "
                                        "of a breakdown): holm, fdr_bh, bonferroni or none."),
    alpha: float = typer.Option(0.05, "--alpha", help="Level of the intervals and tests, between 0 and 0.5."),
    sequential: bool = typer.Option(False, "--sequential",
                                    help="Add always-valid confidence sequences of every lift (seq_ci_low, "
                                         "seq_ci_high): safe to read every day."),
    expected_n: Optional[float] = typer.Option(
        None, "--expected-n",
        help="The planned units of one comparison (treatment + control), fixed before the experiment; the "
             "sequence is narrowest there (implies --sequential). Default: each comparison's current n (valid "
             "for today's read)."),
    bayesian: bool = typer.Option(False, "--bayesian",
                                  help="Add the chance to beat control and the expected loss of shipping each arm "
                                       "(Beta(1,1) prior for rates, flat prior for means)."),
    winsorize: Optional[List[str]] = typer.Option(
        None, "--winsorize",
        help="Cap mean outcomes at a quantile of their non-zero values (all arms pooled): Q for every mean outcome "
             "(e.g. 0.99), COL for one outcome at 0.99, or COL=Q (repeatable)."),
    by: Optional[List[str]] = typer.Option(
        None, "--by",
        help="Break every outcome down by a column (repeatable), with the interaction test and the correction "
             "across cells. For workspace:TABLE, also a companies column (plan), 'persona' (primary persona) or "
             "a segment name."),
    guardrails: bool = typer.Option(False, "--guardrails",
                                    help="Add unsubscribe, complaint and bounce rates per arm from the workspace's "
                                         "email_events (or --events), with a one-sided test and a status."),
    events: Optional[Path] = typer.Option(None, "--events",
                                          help="email_events file (CSV/Parquet/JSONL) for the guardrails; implies "
                                               "--guardrails."),
    unit: str = typer.Option("company_id", "--unit",
                             help="Column of the input that identifies a unit (matches email_events.company_id)."),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable result (JSON)."),
    workspace: Optional[Path] = workspace_option("Workspace for workspace:TABLE inputs and --guardrails "
                                                 "[default: $MOF_WORKSPACE or data/mof.duckdb]"),
):
    """Per arm: n, rate/mean with CI, lift vs control with CI, p-values, SRM check; on request
    confidence sequences, Bayesian chance to win, winsorizing, breakdowns and guardrails.

    Rates: Wilson intervals, Newcomb interval of the difference, score test (Fisher's exact test
    for a LOW DATA comparison, never called significant). Means: t intervals, Welch test.
    Exit status 0 even when the SRM status is warning/blocking or a guardrail is breached
    (read the `srm` and `guardrails` fields).
    """
    from mof_experiments.errors import MofConfigError
    from mof_experiments.experiments import (GUARDRAIL_EVENTS, arm_weights, company_attribute, load_readout_input,
                                             readout)
    from mof_experiments.workspace import Workspace, read_input_file, to_pandas

    covs = {}
    for c in cuped or []:
        if "=" not in c:
            raise MofConfigError(f"--cuped expects OUTCOME=PRE_COLUMN, got {c!r}")
        k, v = c.split("=", 1)
        covs[k.strip()] = v.strip()
    in_ws = file.startswith("workspace:")
    df, source = load_readout_input(file, workspace_path=resolve_workspace(workspace) if in_ws else None)
    if in_ws and "complete" in df.columns:  # `mof experiment outcomes`: read what the notebook reads
        done = df["complete"].fillna(False).astype(bool).to_numpy()
        if not done.all():
            echo_err(f"mof: note: {file}: left out {int((~done).sum()):,} companies whose window is not complete "
                     f"(column 'complete': conversions not yet observable); reading out {int(done.sum()):,}")
            df = df[done].reset_index(drop=True)
    w = _weights(weights)
    missing_by = [b for b in by or [] if b not in df.columns]
    ev = read_input_file(events) if events is not None else None
    needs_ws = (w is None and in_ws and "experiment_id" in df.columns and df["experiment_id"].nunique() == 1) \
        or (in_ws and missing_by) or (guardrails and ev is None)
    if needs_ws:
        with Workspace(resolve_workspace(workspace), read_only=True, must_exist=True) as ws:
            if w is None and in_ws and "experiment_id" in df.columns and df["experiment_id"].nunique() == 1:
                w = arm_weights(ws, str(df["experiment_id"].iloc[0]))  # the table of one experiment: its design
            if missing_by and unit in df.columns:
                df = df.copy()
                for b in missing_by:
                    values, note = company_attribute(ws, b, df[unit])
                    df[b] = values.to_numpy()
                    echo_err(f"mof: note: --by {b}: {note}")
            if guardrails and ev is None:
                if not ws.has("email_events"):
                    raise MofConfigError(f"--guardrails: {ws.path} has no email_events table; give --events FILE")
                t = ws.table("email_events")  # only what the guardrails count
                ev = to_pandas(t.filter(t.event.isin(list(GUARDRAIL_EVENTS))).select(
                    "message_id", "contact_id", "company_id", "event", "ts"))
    result = readout(df, arm, outcome, control, weights=w, covariates=covs, alpha=alpha, correction=correction,
                     sequential=sequential or expected_n is not None, n_expected=expected_n, bayesian=bayesian,
                     winsorize=_winsorize_option(winsorize), by=by, email_events=ev, unit=unit, source=source)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo(str(result))


@experiment_app.command("outcomes")
def outcomes_cmd(
    experiment: str = typer.Argument(..., help="Experiment id in the workspace's assignments."),
    window_days: float = typer.Option(30, "--window-days", help="Conversion window after assigned_at (days)."),
    table: str = typer.Option("experiment_outcomes", "--table", help="Workspace table to write."),
    as_of: Optional[str] = as_of_option(": companies assigned before it, conversions observed until it"),
    workspace: Optional[Path] = workspace_option(),
):
    """Write one row per assigned company: arm, conversion within the window, pre-assignment behavior.

    Companies assigned before --as-of. Columns: experiment_id, company_id, arm, assigned_at,
    first_production_at, converted (0/1: first 2xx production call within --window-days of
    assigned_at), complete (window fully observed by --as-of), and
    the pre-assignment features (calls, errors, error_rate, auth_error_share, distinct_endpoints,
    active_days, days_since_signup, ..., contacts per title group). Read it out with
    `mof experiment readout workspace:experiment_outcomes --arm arm --outcome converted --control holdout`.
    """
    from mof_experiments.experiments import experiment_outcomes
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    with Workspace(resolve_workspace(workspace), must_exist=True) as ws:
        df = experiment_outcomes(ws, experiment, as_of=resolve_as_of(ws, as_of), window_days=window_days)
        ws.write(table, df)
    counts = df.groupby("arm")["converted"].agg(["size", "mean"])
    arms = ", ".join(f"{a} n={int(r['size']):,} converted {r['mean']:.1%}" for a, r in counts.iterrows())
    typer.echo(f"{experiment}: wrote {len(df):,} rows to {table} ({arms}); "
               f"{int((~df['complete']).sum()):,} with an incomplete window")
