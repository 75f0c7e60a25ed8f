"""A simulated API platform whose true effects are known.

Modules: :mod:`~mof_experiments.simulate.world` (constants), :mod:`~.config` (``SimConfig``),
:mod:`~.draws` (companies, activity, contacts), :mod:`~.emails`, :mod:`~.api_events`,
:mod:`~.writer` (``simulate``, the workspace writer).

``simulate(SimConfig(companies=2000, seed=11), "data/mof.duckdb")`` writes the canonical tables
(``companies``, ``contacts``, ``api_events``, ``email_events``, ``assignments``) and the truth
tables (``sim_truth``, ``sim_contact_truth``, ``sim_effects``, ``sim_content``) into a new
workspace file. The same configuration and seed give an identical workspace.

The generative model (documented in ``docs/simulator.md``)
----------------------------------------------------------
1. Each company has an **archetype** (the behavior that drives it) and a latent **intent**
   ``z ~ N(0, 1)``. Archetypes set when it first calls the API, how much and how long it
   calls, its error profile (``stuck_on_errors`` gets mostly 401/403) and its endpoint
   breadth.
2. **Enrollment**: a company still in sandbox two days after its first sandbox call enters the
   MOF experiment (``assignments``, unit: company) if its whole window (``window_days``) fits
   in the simulated period; arms are drawn with the configured weights.
3. **Baseline conversion** within the window happens with probability
   ``p0 = sigmoid(base_logit[archetype] + gamma * z)``.
4. **Emails**: in an emailing arm each contact gets the arm's emails for their persona (the
   nine zone x topic x persona emails of the brief, ``CONTENT``), one every four days, until
   the company converts. A human open happens with probability
   ``sigmoid(logit(open_prob) + beta * z + u_contact)``: intent drives both engagement and
   conversion, so engagement correlates with conversion beyond the email's causal effect.
   An opened email converts the company with probability ``h[archetype] * effect``
   (``h = 1`` everywhere when ``heterogeneous=False``), at a time within 14 days of the open.
5. The truth ``sim_effects.p_convert`` for each arm is the exact probability of converting
   within the window under that arm: ``1 - (1 - p0) * prod(1 - h * effect * q)`` over the
   emails the arm would send, with ``q`` the contact's probability of a delivered human open.
6. ``first_production_at`` is the first 2xx production call; production calls before it fail
   (401/403, e.g. a live key not yet activated).
"""

from mof_experiments.simulate.config import SimConfig, SimResult
from mof_experiments.simulate.world import ARCHETYPES, CONTENT, ENDPOINTS, PERSONA_SHARES, TITLES, ZONES
from mof_experiments.simulate.writer import simulate

__all__ = ["SimConfig", "SimResult", "simulate", "CONTENT", "ZONES", "ARCHETYPES", "TITLES", "ENDPOINTS",
           "PERSONA_SHARES"]
