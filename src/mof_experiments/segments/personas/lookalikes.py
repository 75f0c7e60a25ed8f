"""Rules for the persona look-alikes of issue 17: titles whose words name a persona's function
but whose work is something else.

Each rule reads the normalized title (:func:`~.text.normalize_title`: lower case, Latin accents
stripped) and answers ``OTHER`` when it fires; the classifier measures each rule's precision on
its training titles and reports it as the decision's confidence (``rule_precision_``). The
rules (docs/personas.md, labeling guide):

- ``engineering_outside_software``: an engineer or developer of a discipline outside software
  (mechanical, civil, electrical, chemical, maintenance, hardware, ...; course, curriculum,
  training, business, real-estate, film developers; sales engineers), and no software word.
- ``security_outside_it``: security work that is physical (guards, officers of a site, loss
  prevention, close protection), "securities" or "social security", with no information-security
  word and not the chief of security.
- ``counselor_not_counsel``: a counselor/counsellor (guidance, mental health, school, financial,
  ...) with no legal word: counselor is not counsel.
- ``compliance_outside_legal``: compliance of the environment, health and safety, permits,
  buildings, food, transport or benefit plans, with no legal or privacy word.
- ``controller_outside_finance``: a controller of traffic, crowds, machines, documents, quality
  or a process (``Air Traffic Controller``, ``Document Controller``), with no finance word; a
  bare ``Controller`` stays the finance controller of the guide.

A title with a software, information-security or legal word is left to the model, so a rule
errs towards not firing.
"""

from __future__ import annotations

import re

_ENGINEER = (r"\b(?:engineer\w*|developer\w*|ingenieur\w*|ingeniero\w*|ingeniera\w*|engenheir\w*|entwickler\w*|"
             r"developpeu\w*|desarrollador\w*|desenvolvedor\w*)\b")
_NON_SOFTWARE_DISCIPLINE = (
    r"\b(?:mechanical|mechanic\w*|civil|structural|electrical|electronics?|chemical|process|maintenance|"
    r"manufacturing|industrial|hvac|mining|petroleum|drilling|reservoir|aerospace|aeronautical|avionics|marine|"
    r"naval|environmental|biomedical|agricultural|nuclear|materials|metallurg\w*|geotechnical|geological|"
    r"hardware|fpga|asic|analog|rf|water|sound|recording|audio|locomotive|railway|stationary|automotive|"
    r"acoustic\w*|hydraulic\w*|piping|welding|quality control|safety|fire|plant|packaging|construction|building|"
    r"bridge|highway|traffic|transportation|surveying|lighting|mechatronics|robotics|tooling|tool|"
    r"course|courseware|curriculum|training|instructional|e ?learning|business|real estate|property|land|film|"
    r"photo|print|clothing|textile|food|recipe|sales|fund|economic|organi[sz]ational|talent|"
    r"maschinenbau|bau|elektro\w*|verfahrens\w*|chemie\w*|fahrzeug\w*|wartung|instandhaltung|mecanique|"
    r"genie civil|electricite|electrotechni\w*|chimi\w*|batiment|travaux|mecanic[oa]|electric[oa]|"
    r"eletric[oa]|quimic[oa]|mantenimiento|manutencao|construccion|construcao|produit|producto|produto)\b")
_SOFTWARE = (r"\b(?:software|softwar\w*|web|apps?|application\w*|mobile|full ?stack|front ?end|back ?end|"
             r"devops|data|cloud|platform|api|sdk|firmware|embedded software|ml|machine learning|ai|sre|"
             r"site reliability|security|programm\w*|logiciel\w*|informati\w*|it|ict|tic|ikt|computer|network\w*|"
             r"database|qa|test|automation|integration|bi|intelligence|analytics|systems|system|digital|devsecops|"
             r"game|games|solutions?)\b")

_SECURITY = r"secur\w*|sicherheit\w*|seguridad|seguranca|surete"
_PHYSICAL = (r"\b(?:guard\w*|patrol\w*|hotel|store|retail|site|building|event|physical|loss prevention|facilit\w*|"
             r"campus|hospital|airport|aviation|museum|executive protection|close protection|bodyguard|doorman|"
             r"bouncer|cash|armou?red|night|gate|shift|custodial|officer|officers|supervisor|agent|services|"
             r"wachdienst|werkschutz|objektschutz|vigil\w*|gardien\w*|guardia|vigilante|patrimonial|"
             r"securities|social security|social|police)\b")
_INFOSEC = (r"\b(?:information|info|infosec|cyber\w*|it|ict|tic|ikt|informati\w*|data|network|cloud|application|"
            r"app|appsec|software|soc|siem|threat|vulnerab\w*|pen|penetration|devsecops|iam|identity|grc|ciso|"
            r"cso|digital|system|systems|product|chief|head|vp|director|engineer\w*|analyst)\b")

_COUNSELOR = r"\b(?:counselor|counsellor|counselors|counsellors|counseling|counselling)\b"
_LEGAL = r"\b(?:legal|law|attorney|at law|lawyer|juridique|juridico|juridica|rechts\w*|litigation|corporate)\b"

_COMPLIANCE = r"\b(?:compliance|conformite|cumplimiento|conformidade)\b"
_NON_LEGAL_COMPLIANCE = (r"\b(?:environment\w*|ehs|hse|health (?:and )?safety|occupational health|safety|permits?|"
                         r"permitting|building|buildings|food|transport\w*|benefits?|plan|plans|pension|quality|"
                         r"emissions?|waste|water|fire|osha|medicare|medicaid|billing|coding)\b")
_LEGAL_OR_PRIVACY = r"\b(?:legal|law|privacy|data protection|gdpr|counsel|regulatory counsel|corporate|ethics)\b"

_CONTROLLER = r"\b(?:controller|controllers|controleur|controleuse|controlador[a]?)\b"
_NON_FINANCE_CONTROL = (r"\b(?:air|traffic|crowd|taxi|tram|train|trains|rail\w*|subway|metro|bus|transit|flight|"
                        r"ground|dispatch|mission|assembly|robot|robots|machine\w*|gauge|document\w*|quality|"
                        r"avalanche|snow|pest|oil|gas|slurry|filtration|water|yardage|movement|shipping|freight|"
                        r"inventory|stock|network|access|signal\w*|stage|light\w*|sound|room|cars?|process|"
                        r"production|plant operations|power|energy|grid|loads?|noise|game|ticket\w*|parking|"
                        r"aerien\w*|circulation|trafic|qualite|transito|trafego|fluglots\w*)\b")
_FINANCE = (r"\b(?:financ\w*|finanz\w*|accounting|account\w*|cost|costs|budget\w*|treasury|fiscal|comptab\w*|"
            r"gestion|contab\w*|corporate|group|fpa|revenue|tax|project|plant controller|division|business)\b")

#: (rule name, test on the normalized title), in order; the first that fires decides ``OTHER``.
LOOKALIKE_RULES = (
    ("engineering_outside_software",
     lambda t: bool(re.search(_ENGINEER, t) and re.search(_NON_SOFTWARE_DISCIPLINE, t)
                    and not re.search(_SOFTWARE, t))),
    ("security_outside_it",
     lambda t: bool(re.search(_SECURITY, t) and re.search(_PHYSICAL, t) and not re.search(_INFOSEC, t))),
    ("counselor_not_counsel", lambda t: bool(re.search(_COUNSELOR, t) and not re.search(_LEGAL, t))),
    ("compliance_outside_legal",
     lambda t: bool(re.search(_COMPLIANCE, t) and re.search(_NON_LEGAL_COMPLIANCE, t)
                    and not re.search(_LEGAL_OR_PRIVACY, t))),
    ("controller_outside_finance",
     lambda t: bool(re.search(_CONTROLLER, t) and re.search(_NON_FINANCE_CONTROL, t) and not re.search(_FINANCE, t))),
)


def lookalike_rule(norm: str) -> str | None:
    """The name of the first rule of :data:`LOOKALIKE_RULES` that fires on a normalized title, or ``None``."""
    for name, test in LOOKALIKE_RULES:
        if test(norm):
            return name
    return None
