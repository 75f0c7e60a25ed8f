"""`mof segment`: personas, behavior features, rule segments and clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mof_experiments.cli._app import app, as_of_option, engine_option, resolve_workspace, source_option, workspace_option


@app.command()
def segment(
    workspace: Optional[Path] = workspace_option(),
    as_of: Optional[str] = as_of_option(" of the behavior features"),
    rules: Optional[Path] = typer.Option(None, "--rules",
                                         help="YAML file of rule segments (name, description, rule). "
                                              "Default: the shipped rules (docs/segments.md)."),
    threshold: float = typer.Option(0.55, "--threshold", min=0.0, max=1.0,
                                    help="Persona model probability below which a title is OTHER."),
    review_threshold: float = typer.Option(0.8, "--review-threshold", min=0.0, max=1.0,
                                           help="Persona confidence below which a contact is flagged "
                                                "needs_review (docs/personas.md)."),
    k_min: int = typer.Option(3, "--k-min", min=2, help="Smallest number of clusters tried."),
    k_max: int = typer.Option(8, "--k-max", min=2, help="Largest number of clusters tried (k by silhouette)."),
    seed: int = typer.Option(0, "--seed", help="random_state of the clustering."),
    engine: str = engine_option("the behavior aggregation", "Tables are"),
    source: Optional[Path] = source_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Segment contacts and companies and write the tables personas, behavior, segments, clusters.

    personas: contact_id -> PM/GC/CSO/CFO/CEO/DEV/OTHER from the job title (rules, then a
    calibrated text model), with confidence, the deciding rule and needs_review. behavior: per-company API features as of
    --as-of. segments: (company_id, segment) for every rule a company meets. clusters: KMeans
    cluster per company (profile in cluster_profiles). All tables are written in one transaction.
    """
    from mof_experiments.engines import open_source
    from mof_experiments.errors import MofConfigError
    from mof_experiments.segments import load_rules, segment_workspace
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    if k_max < k_min:
        raise MofConfigError(f"--k-max ({k_max}) must be at least --k-min ({k_min})")
    rule_set = load_rules(rules)            # fail on a bad rules file before any work
    with Workspace(resolve_workspace(workspace), must_exist=True) as ws:
        src = open_source(engine, source, workspace=ws)
        run = segment_workspace(ws, resolve_as_of(src, as_of), rules=rule_set, threshold=threshold,
                                review_threshold=review_threshold, k_range=range(k_min, k_max + 1),
                                random_state=seed, source=src, progress=not quiet)
    p = run.personas
    typer.echo(f"segmented as of {run.as_of:%Y-%m-%d %H:%M} UTC: {len(p):,} contacts, "
               f"{len(run.behavior):,} companies")
    pc = p["persona"].value_counts()
    if len(p):
        typer.echo("personas: " + ", ".join(f"{k} {int(pc.get(k, 0)):,}" for k in
                                            ("PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER"))
                   + f" (by model: {int(p['rule'].str.startswith('model').sum()):,}, "
                     f"missing title: {int((p['rule'] == 'missing').sum()):,})")
        typer.echo(f"personas needing review: {int(p['needs_review'].sum()):,} of {len(p):,} "
                   f"(confidence below {review_threshold:g} or unreadable script: "
                   f"{int((p['rule'] == 'unrecognized_script').sum()):,}); "
                   "`mof cohort export --exclude-needs-review` leaves them out")
        pc_ = run.persona_cache
        typer.echo(f"persona titles: {pc_.hits + pc_.misses:,} distinct (normalized), {pc_.misses:,} classified now, "
                   f"{pc_.hits:,} from the workspace's persona_cache")
    else:
        typer.echo("personas: no contacts in the workspace (empty personas table)")
    sc = run.segments["segment"].value_counts()
    typer.echo("segments: " + ", ".join(f"{r.name} {int(sc.get(r.name, 0)):,}" for r in run.rules))
    prof = run.clusters.profile
    typer.echo(f"clusters: k={run.clusters.k} (silhouette "
               f"{run.clusters.scores.loc[run.clusters.scores['chosen'], 'silhouette'].iloc[0]:.3f}); "
               + ", ".join(f"#{r.cluster}: {r.companies:,} ({r.conversion_rate:.0%} in production"
                           f"{', low data' if r.low_data else ''})" for r in prof.itertuples()))
    typer.echo("wrote tables personas, behavior, segments, clusters, cluster_profiles")
