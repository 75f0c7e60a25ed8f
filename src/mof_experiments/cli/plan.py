"""``mof plan content``: the send plan from the content test (persona -> best zone's campaign)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mof_experiments.cli._app import app, resolve_workspace, workspace_option

plan_app = typer.Typer(help="Turn evidence into a send plan.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(plan_app, name="plan")


@plan_app.command("content")
def plan_content(
    out: Path = typer.Option(Path("plans/content.yaml"), "--out", "-o", help="Plan file to write (YAML, atomically)."),
    workspace: Optional[Path] = workspace_option(),
    experiment: str = typer.Option("mof_email_2026", "--experiment",
                                   help="The content test's experiment (read); also the experiment the plan "
                                        "sends under (who may be emailed). A contact-level zone test (mof assign "
                                        "--unit contact) is read, and the plan sends under its parent's arm."),
    arm: Optional[List[str]] = typer.Option(None, "--arm", help="Arm(s) to send to [default: email]."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Cut-off date (UTC) [default: end of the data]."),
    campaigns_dir: str = typer.Option("campaigns", "--campaigns-dir",
                                      help="Folder of the zone campaigns (<zone>.yaml)."),
    min_delivered: int = typer.Option(30, "--min-delivered", help="Minimum delivered messages for a zone to be chosen."),
    seed: int = typer.Option(0, "--seed", help="Seed of the posterior draws."),
):
    """Write a plan: each persona's best zone by engagement (clicks per delivered message) with
    its evidence (n, click rate and 95% CI, probability of best).

    Refuses when the zone was not randomized within persona (the default holdout design).
    """
    from mof_experiments.content import best_zones, build_plan, content_grid, write_plan
    from mof_experiments.content.grid import PERSONAS
    from mof_experiments.errors import MofInputError
    from mof_experiments.reports import load_report_data

    data = load_report_data(str(resolve_workspace(workspace)), as_of or "")
    grid = content_grid(data.messages, data.personas, data.assignments, data.funnel, experiment_id=experiment,
                        as_of=data.as_of, engagements=data.engagements, contact_assignments=data.contact_assignments)
    if not grid.ok:
        raise MofInputError(grid.reason, source=str(resolve_workspace(workspace)), column="zone")
    best = best_zones(grid.table, min_delivered=min_delivered, seed=seed, personas=list(grid.estimable))
    send_exp, send_arms = experiment, arm or ["email"]
    if grid.zone_experiment_id is not None and experiment == grid.zone_experiment_id:
        # a zone test read: the plan sends under its parent's emailed arm (every zone's contacts)
        z = data.contact_assignments
        z = z[z["experiment_id"] == experiment]
        send_exp, send_arms = str(z["parent_experiment_id"].iloc[0]), arm or [str(z["parent_arm"].iloc[0])]
        typer.echo(f"read zone test {experiment}; the plan sends under {send_exp} ({', '.join(send_arms)})")
    plan = build_plan(best, plan_id=f"content_{data.as_of:%Y-%m-%d}", experiment_id=send_exp,
                      arms=send_arms, campaigns_dir=campaigns_dir)
    write_plan(plan, out)
    typer.echo(f"plan {plan.plan_id}: {len(plan.entries)} personas -> {out}")
    for e in plan.entries:
        ev = e.evidence
        typer.echo(f"  {e.persona:<4} {e.zone:<18} n={ev['delivered']:>6,}  click rate {ev['click_rate']:.1%} "
                   f"(95% CI {ev['ci_low']:.1%} to {ev['ci_high']:.1%})  P(best) {ev['prob_best']:.2f}")
    left = sorted(set(PERSONAS) - {e.persona for e in plan.entries})
    if left:
        typer.echo(f"  not planned (too little data): {', '.join(left)}")
