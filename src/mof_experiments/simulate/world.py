"""The simulated world: the nine emails of the brief, company archetypes, personas and job
titles, endpoints and error codes (constants; documented in ``docs/simulator.md``)."""

from __future__ import annotations

import numpy as np
import pandas as pd


#: The nine emails of the brief: zone, topic, persona, planted open probability (human open for
#: a contact of average intent), click probability given an open, causal effect of an opened
#: email on the company's conversion within the window (before the archetype multiplier).
CONTENT = pd.DataFrame(
    [
        ("feature_highlight", "dashboards", "PM", 0.38, 0.30, 0.10),
        ("assistance", "design_review", "DEV", 0.40, 0.35, 0.10),
        ("case_study", "driving_adoption", "PM", 0.15, 0.30, 0.14),
        ("feature_highlight", "scalability", "PM", 0.36, 0.22, 0.04),
        ("feature_highlight", "customer_communication", "PM", 0.34, 0.20, 0.04),
        ("roi_calculation", "build_vs_buy", "CFO", 0.25, 0.15, 0.01),
        ("case_study", "company_insights", "CEO", 0.13, 0.10, 0.00),
        ("security", "data_integrity", "CSO", 0.38, 0.20, 0.01),
        ("compliance", "developer_adoption", "GC", 0.25, 0.12, 0.00),
    ],
    columns=["zone", "topic", "persona", "open_prob", "click_prob", "effect"],
)
ZONES = tuple(dict.fromkeys(CONTENT["zone"]))

ENDPOINTS = ("/v1/payments", "/v1/customers", "/v1/refunds", "/v1/webhooks", "/v1/invoices",
             "/v1/subscriptions", "/v1/balance", "/v1/payouts", "/v1/disputes", "/v1/tokens",
             "/v1/auth/token", "/v1/events")
ENDPOINT_POP = np.array([10, 8, 4, 6, 4, 4, 3, 2, 1.5, 5, 7, 2.5])

# name: share, mean days signup->first call (None: never calls), active span (days; None: to the
# end), sandbox calls/day, error rate, auth-heavy errors, endpoint breadth (lo, hi), base logit of
# converting within the window, P(converts before enrollment), production calls/day, effect mult.
ARCHETYPES = pd.DataFrame(
    [
        ("fast_adopter", 0.15, 0.3, None, 15.0, 0.03, False, 5, 10, 0.8, 0.65, 25.0, 0.3),
        ("steady_builder", 0.25, 1.5, None, 8.0, 0.05, False, 4, 8, -0.9, 0.0, 12.0, 1.0),
        ("stuck_on_errors", 0.18, 1.0, None, 12.0, 0.45, True, 2, 5, -2.0, 0.0, 10.0, 1.6),
        ("gone_quiet", 0.14, 2.0, (5, 18), 8.0, 0.10, False, 2, 4, -2.6, 0.0, 6.0, 0.6),
        ("tire_kicker", 0.16, 3.0, (0.1, 3), 2.0, 0.15, False, 1, 2, -3.6, 0.0, 3.0, 0.15),
        ("no_show", 0.12, None, None, 0.0, 0.0, False, 0, 0, -np.inf, 0.0, 0.0, 0.0),
    ],
    columns=["archetype", "share", "first_call_days", "span", "rate", "err_rate", "auth_heavy",
             "k_lo", "k_hi", "base_logit", "pre_conv", "prod_rate", "h"],
)

PERSONA_SHARES = {"DEV": 0.34, "PM": 0.22, "CEO": 0.10, "CFO": 0.07, "CSO": 0.04, "GC": 0.04, "OTHER": 0.19}

#: Job titles per persona as they appear in CRM exports. Where a title could go either way the
#: persona is the toolkit's documented choice (docs/personas.md): CTO, VP Engineering and Head of
#: Platform are DEV (the people who integrate); product marketing (PMM) is OTHER.
TITLES = {
    "PM": ["Product Manager", "Sr. PM, Payments", "Senior Product Manager", "PM", "Group Product Manager",
           "Principal PM - Platform", "Product Owner", "Head of Product", "VP Product",
           "VP of Product Management", "Director of Product", "Technical Product Manager", "Product Lead",
           "Chef de produit", "Produktmanager", "Gerente de Producto", "Associate Product Manager",
           "Chief Product Officer", "CPO", "Prodcut Manager", "Product Manager, Checkout"],
    "GC": ["General Counsel", "Associate General Counsel", "GC", "Deputy General Counsel", "Legal Counsel",
           "Head of Legal", "VP Legal", "Chief Legal Officer", "CLO", "Corporate Counsel",
           "Senior Counsel, Privacy", "Attorney", "Legal Director", "Counsel", "Directeur juridique",
           "Abogado", "Product Counsel", "General Councel"],
    "CSO": ["CISO", "Chief Information Security Officer", "Chief Security Officer", "CSO", "Head of Security",
            "VP Security", "Director, InfoSec", "Information Security Manager", "AppSec Lead",
            "Security Architect", "Head of Information Security", "Responsable sécurité informatique", "Security Lead",
            "Cheif Security Officer", "VP, Information Security"],
    "CFO": ["CFO", "Chief Financial Officer", "Head of FP&A", "VP Finance", "Finance Director", "Controller",
            "Director of Finance", "FP&A Manager", "Financial Controller", "Head of Finance",
            "Finance Manager", "Directeur financier", "Finanzleiter", "Treasurer", "Chief Finacial Officer"],
    "CEO": ["CEO", "Founder & CEO", "Founder/CEO", "Chief Executive Officer", "Co-founder & CEO", "Founder",
            "Co-Founder", "Managing Director", "President", "President & CEO", "Owner", "Geschäftsführer",
            "Directeur général", "Fundador y CEO", "CEO & Founder"],
    "DEV": ["Backend Engineer II", "Software Engineer", "Senior Software Engineer", "SWE", "Sr. SWE",
            "Full Stack Developer", "Developer", "Lead Developer", "Staff Engineer", "Principal Engineer",
            "CTO", "CTO & Co-founder", "VP Eng", "VP Engineering", "Head of Platform", "Engineering Manager",
            "DevOps Engineer", "Platform Engineer", "iOS Developer", "Integration Engineer", "Tech Lead",
            "Entwickler", "Desarrollador", "Ingénieur logiciel", "Director of Engineering",
            "Sofware Engineer", "Site Reliability Engineer", "Frontend Dev", "Data Engineer"],
    "OTHER": ["Product Marketing Manager", "PMM", "Marketing Manager", "Account Executive", "Sales Director",
              "Recruiter", "HR Business Partner", "Office Manager", "Customer Success Manager",
              "Business Analyst", "Designer", "UX Researcher", "Operations Manager", "Intern",
              "Consultant", "Executive Assistant", "", "n/a", "Head of Growth", "Community Manager"],
}
PREFIXES = ["Senior ", "Sr ", "Lead ", "Junior ", "Interim ", "Acting "]
SUFFIXES = [", Payments", " - EMEA", " (Platform)", " | Billing", ", North America", " - APAC", " II"]

FIRST = ["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena", "Mo",
          "Nia", "Omar", "Pia", "Quinn", "Ravi", "Sara", "Tom", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe"]
LAST = ["Adams", "Baker", "Chopra", "Diaz", "Evans", "Fischer", "Garcia", "Huang", "Ito", "Jensen", "Khan",
         "Lopez", "Muller", "Nguyen", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka", "Urban",
         "Varga", "Weber", "Xu", "Yilmaz", "Zhang"]
ADJ = ["Blue", "Bright", "Clear", "Swift", "North", "Prime", "Cobalt", "Quiet", "Bold", "Lumen", "Rapid",
        "Silver", "Green", "Solid", "Nova", "Apex", "Urban", "Vivid", "Echo", "Pioneer"]
NOUN = ["Ledger", "Cart", "Harbor", "Pay", "Freight", "Health", "Learn", "Fleet", "Table", "Stack", "Ticket",
         "Market", "Loop", "Field", "Forge", "Nest", "Pulse", "Route", "Wave", "Yard"]
PLANS = ["free", "startup", "growth", "enterprise"]

ERR_NORMAL = (np.array([400, 404, 422, 429, 401, 500, 503]), np.array([.30, .25, .20, .10, .05, .07, .03]))
ERR_AUTH = (np.array([401, 403, 400, 422, 500]), np.array([.45, .25, .15, .10, .05]))


__all__ = ["CONTENT", "ZONES", "ENDPOINTS", "ARCHETYPES", "PERSONA_SHARES", "TITLES"]
