"""The labeling tables of the public titles (:mod:`.build_data`): occupation -> persona, and the
title rules that encode the labeling guide where an occupation mixes functions.

``SOURCES.md`` beside the data explains each choice; ``docs/personas.md`` holds the guide.
"""

from __future__ import annotations

#: O*NET-SOC occupation -> persona (occupations not listed are OTHER). Reasoning in SOURCES.md.
OCCUPATIONS: dict[str, str] = {
    # software engineering: the people who integrate an API
    "15-1251.00": "DEV", "15-1252.00": "DEV", "15-1253.00": "DEV", "15-1254.00": "DEV",
    "15-1299.07": "DEV", "15-1299.08": "DEV", "15-1243.00": "DEV", "15-1243.01": "DEV",
    "15-1242.00": "DEV", "15-1244.00": "DEV", "15-1241.00": "DEV", "15-1299.01": "DEV",
    "11-3021.00": "DEV",          # IT and software development managers, CIO (security ones: rule)
    # security function
    "15-1212.00": "CSO", "15-1299.04": "CSO", "15-1299.05": "CSO", "15-1299.06": "CSO",
    # the company's own finance function
    "11-3031.00": "CFO", "11-3031.01": "CFO", "13-2011.00": "CFO", "13-2031.00": "CFO",
    "43-3031.00": "CFO",
    # legal and privacy/compliance
    "23-1011.00": "GC", "23-2011.00": "GC", "11-9199.02": "GC",
}

#: ESCO occupation (its English preferred label) -> persona (occupations not listed are OTHER).
ESCO_OCCUPATIONS: dict[str, str] = {
    "chief executive officer": "CEO",
    **dict.fromkeys(["financial manager", "financial controller", "accounting manager", "corporate treasurer",
                     "budget manager", "accountant", "accounting analyst", "budget analyst", "cost analyst",
                     "audit supervisor", "financial auditor", "bank treasurer", "public finance accountant",
                     "accounting assistant", "bookkeeper"], "CFO"),
    **dict.fromkeys(["chief ICT security officer", "ICT security manager", "ICT security administrator",
                     "ICT security engineer",
                     "ICT security consultant", "ICT security technician", "digital forensics expert",
                     "ethical hacker"], "CSO"),
    **dict.fromkeys(["chief technology officer", "chief information officer", "software manager",
                     "ICT system developer", "software developer", "software architect", "software analyst",
                     "user interface developer", "web developer", "mobile application developer",
                     "ICT application developer", "embedded systems software developer",
                     "industrial mobile devices software developer", "digital games developer", "database developer",
                     "database administrator", "database designer", "database integrator", "data warehouse designer",
                     "ICT network engineer", "ICT network architect", "ICT network administrator",
                     "ICT system administrator", "system configurator", "software tester", "ICT test analyst",
                     "ICT system tester", "ICT integration tester", "integration engineer", "ICT system architect",
                     "enterprise architect", "ICT application configurator", "blockchain developer",
                     "blockchain architect", "cloud engineer"], "DEV"),
    **dict.fromkeys(["lawyer", "corporate lawyer", "legal consultant", "legal service manager", "legal assistant"],
                    "GC"),
    **dict.fromkeys(["ICT product manager", "product manager"], "PM"),
}

#: ESCO occupations left out (mixed or unclear persona).
EXCLUDED_ESCO: dict[str, str] = {
    "airport chief executive": "head of an airport: CEO of a public body or an operations manager",
    "branch manager": "branch of a bank or a shop: neither clearly CEO nor OTHER",
    "business manager": "mixed",
    "chief data officer": "data leadership: neither engineering nor OTHER by the guide",
    "prosecutor": "a lawyer for the state, not a company's legal function",
    "regulatory affairs manager": "regulatory affairs (product approvals)",
    "legal administrative assistant": "legal secretaries: administration within legal",
    "director of compliance and information security in gambling": "mixes compliance and security",
    "ICT resilience manager": "continuity planning: security or operations",
    "knowledge engineer": "AI knowledge bases: engineering or research",
    "ICT technician": "'IT engineer', 'ICT engineer': support or engineering",
    "embedded system designer": "hardware or software",
}

#: Occupations left out entirely (their titles cannot be told apart from the title alone).
EXCLUDED_OCCUPATIONS: dict[str, str] = {
    "23-1012.00": "law clerks serve courts, not a company's legal function; 'Law Clerk' reads as legal",
    "11-9199.01": "regulatory affairs (product approvals) is neither clearly legal nor OTHER",
    "13-1041.07": "regulatory affairs specialists, same reason",
    "43-3021.00": "billing clerks: finance function in some companies, operations in others",
    "43-3011.00": "collectors: mostly collection agencies (OTHER), sometimes accounts receivable",
    "43-3051.00": "payroll: finance in some companies, HR in others",
    "11-9199.00": "'Managers, All Other' mixes every function",
    "13-1199.00": "'Business Operations Specialists, All Other' mixes every function",
}

_SECURITY_CUE = (r"secur|cyber|threat|red team|blue team|incident|forensic|penetration|pen test|vulnerab|"
                 r"crypt|assurance|exploit|intel|ciso|cissp|\bsoc\b|hack|malware|espionage|all source|risk")

#: Ordered title rules: (name, regex on the lower-cased title, persona or None = exclude, occupations or None = all).
TITLE_RULES: tuple[tuple[str, str, str | None, tuple[str, ...] | None], ...] = (
    # founders/CEOs and functional chiefs (docs/personas.md: the function wins over "founder")
    ("chief_financial", r"chief financial officer|\bcfo\b|finance vice president", "CFO", None),
    ("chief_technology", r"chief (technology|technical|information) officer|\bcto\b|\bcio\b", "DEV", None),
    ("chief_security", r"chief (information )?security officer|\bciso\b|executive cyber", "CSO", None),
    ("chief_executive", r"chief executive officer|\bceo\b|^(bank|financial institution) president$|"
                        r"^(business|corporate|private sector) executive$|^executive (director|officer)$|"
                        r"^nonprofit director$|^foundation director$", "CEO", None),
    ("general_manager", r"^general manager \(gm\)$", "CEO", None),
    # a head-of-organization word outside the executives occupations (``Zoo Managing Director``,
    # ``Hotels General Manager``, ``University President``): the guide says CEO when the person
    # heads the organization, the occupation says facility manager; the title alone cannot tell
    ("head_word_outside_executives", r"(?<!vice )\bpresident|managing director|executive director|general manager|"
                                     r"\bowner\b|founder|chairman|chairwoman|\bceo\b", None, ("not:CEO",)),
    # any other title of the Chief Executives occupation: agency heads, COO, CDO ... are ambiguous
    ("other_chief_executives", r".", None, ("11-1011.00", "11-1011.03")),
    # a lawyer for the state is not a company's legal function (as ESCO's excluded "prosecutor")
    ("prosecutor", r"prosecut", None, None),
    # "counselor" among the lawyers' titles: legal in U.S. usage, a guidance counselor elsewhere;
    # the title alone cannot tell (docs/personas.md: counselor is not counsel)
    ("counselor_among_lawyers", r"counsel+or", None, ("23-1011.00", "esco:lawyer", "esco:corporate lawyer",
                                                     "esco:legal consultant")),
    # "Financial Analyst" is CFO in O*NET's financial analysts (corporate_finance_analyst below) but
    # ESCO's "financial analyst" occupation is markets research: the bare title is left out there
    ("financial_analyst_markets", r"^financial analysts?$", None, ("esco:financial analyst",)),
    # supervisors of accounts payable/receivable or bookkeeping run part of the finance function
    ("finance_supervisor", r"accounts (payable|receivable)|accounting|bookkeeping", "CFO", ("43-1011.00",)),
    # web design and web content are design and editing, not software engineering
    ("web_design_in_dev", r"web ?design|web content|content (creator|manager)", None, ("DEV",)),
    # product management is PM, product marketing is marketing
    ("product_marketing", r"product marketing", "OTHER", None),
    ("product_manager", r"^product (line )?manager( \(plm\))?$|^product owner$|^product director$", "PM", None),
    # "Clothing Product Manager", "Geothermal Product Manager": product management by the words,
    # production or design by the occupation
    ("product_title_outside_pm", r"product (manager|director|owner|lead)|products manager", None, ("not:PM",)),
    # titles whose function depends on the employer: unqualified engineering and development
    ("unqualified_engineering", r"^(senior |lead |chief |staff )?(engineer|engineering (director|manager|supervisor|"
                                r"group manager|project manager|program manager|analyst)|developer|technical director|"
                                r"technical engineer|director,? (of )?engineering)$", None, None),
    # software work listed under a non-software occupation (O*NET "Engineers, All Other" lists
    # "Full Stack Engineer"): the occupation says nothing about these titles
    ("software_outside_software_occ", r"software|full ?stack|front ?end|back ?end|devops|dev ops|web develop|"
                                      r"programmer|developer advocate|\bui developer|user interface developer|"
                                      r"(data|web|multimedia|bioinformatics|applications?|systems?|database|mobile|"
                                      r"game|embedded|visualization|ict|it) (developer|engineer)|stack engineer",
     None, ("not:DEV",)),
    # privacy is the legal/privacy function wherever O*NET lists it
    ("privacy", r"privacy|data protection", "GC", None),
    # security titles in IT occupations are the security function
    ("security_in_it", r"secur|cyber", "CSO", ("11-3021.00", "15-1211.00", "15-1231.00", "15-1244.00",
                                                "15-1241.00", "15-1299.09", "DEV")),
    # plain IT titles listed under the security occupations are not security work
    ("non_security_in_security_occ", r"^(?!.*(" + _SECURITY_CUE + r")).*$", None,
     ("15-1212.00", "15-1299.04", "15-1299.05", "15-1299.06")),
    # physical security occupations: keep the clearly physical titles as OTHER, drop the rest
    ("physical_security", r"physical|personal (protection|security)|guard|museum|violence|loss prevention|"
                          r"corporate security|internal security|security (supervisor|services)", "OTHER",
     ("11-3013.01", "13-1199.07")),
    ("generic_security_title", r".", None, ("11-3013.01", "13-1199.07")),
    # IT-manager occupation titles that are not engineering
    ("it_non_engineering", r"account manager|knowledge|content|portfolio|product support|workforce", None,
     ("11-3021.00",)),
    # banks' line business listed under Financial Managers is not the finance function
    ("bank_line_business", r"bank|banking|atm|branch|credit union|mortgage|exchange floor|investment|"
                           r"asset manager|actuarial|credit", "OTHER", ("11-3031.00",)),
    ("treasurer_non_finance", r"trust officer|financial engineer|financier|production controller", None,
     ("11-3031.01",)),
    # the company's finance analysts vs investment analysts
    ("corporate_finance_analyst", r"^(corporate )?financ(e|ial) analyst$|treasury analyst|planning analyst|"
                                  r"fiscal analyst|accounting analyst|budget", "CFO", ("13-2051.00",)),
    ("generic_analyst", r"^analyst$|brand analyst|pricing|financial systems analyst", None, ("13-2051.00",)),
    # compliance: corporate compliance is GC; environmental, safety and inspection work is not
    ("environmental_compliance", r"environment|safety|health|accreditation|licens", "OTHER", ("11-9199.02",)),
    ("compliance_ambiguous", r"audit|risk manager", None, ("11-9199.02",)),
    ("corporate_compliance", r"^compliance (analyst|coordinator|officer|specialist|manager|director)$",
     "GC", ("13-1041.00",)),
    ("compliance_in_accounting", r"compliance", None, ("13-2011.00",)),
    ("accounting_systems", r"systems analyst|information systems auditor", None, ("13-2011.00",)),
    # bookkeeping clerks: keep the finance-function work (ledgers, payables, audit), drop bank back-office clerks
    ("finance_clerk", r"account|bookkeep|audit|payable|receivable|ledger|budget|fiscal|financ|cost|billing|"
                      r"reconcil|journal|voucher", "CFO", ("43-3031.00",)),
    ("clerk_other", r".", None, ("43-3031.00",)),
    ("auditor_non_finance", r"quality|railroad|insurance|medical|inventory|payroll|tax auditor|county|city|"
                            r"data processing|information systems|field auditor", None, ("13-2011.00",)),
    ("risk_insurance", r"risk|insurance", None, ("11-3031.00",)),
    ("legal_assistant_non_legal", r"^(legal )?secretary$", None, ("23-2011.00",)),
    # ESCO: alternative labels of an occupation that name another job
    ("esco_product_manager_other", r"^(?!.*product (manag|owner)).*$", None, ("esco:product manager",)),
    ("esco_examiner", r"examiner|investigat", None, ("esco:financial auditor", "esco:financial controller")),
    ("esco_court_clerk", r"clerk|judicial|guardian", None, ("esco:legal assistant",)),
)

#: Multilingual title rules, on :func:`~.text.normalize_title` output (accents stripped): (name,
#: regex, persona or None = exclude, scope). Scope ``"all"``, ``"not:<persona>"`` (titles whose
#: occupation has another persona) or a persona (titles whose occupation has that persona). They
#: carry the English rules above into German, French, Spanish and Portuguese.
def _ml_head() -> str:
    """The classifier's own company-head and CEO words (:mod:`.model`), so that the data leaves out
    exactly the titles whose head word the classifier's rule would read as the company head."""
    from mof_experiments.segments.personas.heads import _CEO, _HEAD

    return _HEAD + "|" + _CEO


_ML_PM = (r"produktmanag|produktmang|produktleiter|produktverantwortlich|product (?:manager|owner)|"
          r"\bchef(?:fe)? de (?:groupe )?produit|responsable (?:de |des )?(?:gamme )?produit|"
          r"\bjef[ea] de producto|responsable de producto|director[a]? de productos\b|gestion de productos|"
          r"gestor[a]? de produtos|diretor[a]? de produtos\b")
_ML_SOFTWARE = (r"softwar|logiciel|programmier|programmeur|programador|programad|desenvolvedor|desarrollador|"
                r"developpeur|web ?entwickl|full ?stack|front ?end|back ?end|devops")
_ML_SECURITY = (r"secur|sicherheit|seguridad|seguranca|cyber|hack|forens|pentest|penetra|schwachstell|vulnerab|"
                r"threat|bedrohung|crypt|krypt|intrusion|malware|\bsoc\b|ciso")
ML_TITLE_RULES: tuple[tuple[str, str, str | None, str], ...] = (
    ("ml_chief_financial", r"\bcfo\b|finanzvorstand|finanzdirektor|finanzgeschaftsfuhr|directeur financier|"
                           r"directrice financiere|director[a]? financier[oa]|diretor[a]? financeir[oa]|"
                           r"\bdaf\b(?!.*lehr)", "CFO", "all"),     # not "DaF-Lehrer" (German as a foreign language)
    ("ml_prosecutor", r"prosecut|staatsanwalt|procureur|fiscal (?:del|de)|promotor[a]? de justica", None, "all"),
    ("ml_counselor_among_lawyers", r"counsel+or", None, "GC"),
    ("ml_financial_analyst_markets", r"^(?:analista financier[oa]|analyste financier[e]?|finanzanalyst(?:in)?|"
                                     r"analista financeir[oa])(?: |$)", None, "not:CFO"),
    ("ml_web_design_in_dev", r"web ?design|createur de contenus|creatrice de contenus|contenus web|"
                             r"conteudos web|contenidos web", None, "DEV"),
    # ESCO/ROME titles filed under a finance occupation without any finance word (``Bankangestellte``
    # under bank treasurer, ROME's ``Responsable services en facilities management`` or ``Travel
    # manager`` mapped to financial manager): the title alone does not name the finance function
    ("ml_finance_occupation_other_title", r"^(?!.*(?:finan|finac|compt|contas|cuentas|custo|controle de gestion|control de gestion|account|buchhalt|buchfuhr|rechnung|bilanz|contab|"
                                          r"contad|tresor|treasur|tesor|schatz|budget|presupuest|orcament|audit|revis|"
                                          r"prufer|prufung|controll|fiscal|steuer|kass|caja|caix|cost|kost|cout|tax|"
                                          r"impot|tribut|geld|money|zahl|cash|intendant|\bcfo\b|\bdaf\b|"
                                          r"kammerer|tesour|ledger|livro|libro)).*$", None, "CFO"),
    ("ml_chief_technology", r"\bcto\b|\bcio\b", "DEV", "all"),
    ("ml_chief_security", r"\bciso\b|\brssi\b", "CSO", "all"),
    # unqualified engineering or development (the English ``unqualified_engineering``): the function
    # depends on the employer
    ("ml_unqualified_engineering", r"^(?:(?:senior|junior|lead|leitender?|chef|jefe|chefe) )?(?:(?:entwickler(?:in)?|"
                                   r"ingenieur(?:in|e)?|developpeu(?:r|se)|desarrollador[a]?|ingenier[oa]|"
                                   r"engenheir[oa]|desenvolvedor[a]?)(?: |$))+$", None, "all"),
    ("ml_privacy", r"privacy|datenschutz|protection des donnees|proteccion de datos|protecao de dados|"
                   r"vie privee|privacidad|privacidade|\bdpo\b", "GC", "all"),
    ("ml_product_marketing", r"produktmarketing|marketing (?:de |des |du )?produit|marketing de producto|"
                             r"marketing de produto|product marketing|mercatique", "OTHER", "PM"),
    # a company-head word outside the chief-executive occupation (``Geschäftsführer Gastronomie``,
    # ``gérant de librairie``): head of the organization or of a unit, not told apart
    ("ml_head_word_outside_executives", _ml_head(), None, "not:CEO"),
    ("ml_product_title_outside_pm", _ML_PM, None, "not:PM"),
    ("ml_software_outside_software_occ", _ML_SOFTWARE, None, "not:DEV"),
    # titles of the product-manager occupations that do not name product management (ESCO's
    # ``product developer``, ``Ingénieur produit``, ``Diretor de desenvolvimento de novos produtos``)
    ("ml_pm_occupation_other_title", r"^(?!.*(?:" + _ML_PM + r")).*$|develop|desenvolv|desarroll|entwickl",
     None, "PM"),
    # the chief-executive occupation's labels that name another job (``Administrador`` alone is an
    # administrator; ``Gerente de agência de recrutamento`` runs a branch)
    ("ml_ceo_occupation_other_title", r"^administrador[a]?$|agencia|technisch|kaufmannisch", None, "CEO"),
    ("ml_security_in_it", _ML_SECURITY, "CSO", "DEV"),
    # IT security named outright under another occupation (ESCO's ``IT-Sicherheitsanalytiker`` filed
    # under disaster recovery, ROME's ``Expert en cybersécurité`` mapped to a non-security occupation)
    ("ml_it_security_outside_security_occ", r"\bit ?sicherheit|cyber ?secur|cybersecurite|ciberseguridad|"
                                            r"ciberseguranca|securite (?:informatique|des systemes d information)|"
                                            r"seguridad (?:informatica|de la informacion)|"
                                            r"seguranca (?:informatica|da informacao)", "CSO", "not:CSO"),
    ("ml_non_security_in_security_occ", r"^(?!.*(?:" + _ML_SECURITY + r"|risque|riesgo|risco|risiko|audit|"
                                        r"ethique|etico|ethisch|informatique|informatica|ict|tic|ikt)).*$",
     None, "CSO"),
)
