"""Normalizing job titles and telling which script they are written in.

:func:`normalize_title` keeps the letters of every script (a Japanese or Chinese title stays a
Japanese or Chinese title; v1 turned it into an empty string), strips accents from Latin letters
only (``Geschäftsführer`` -> ``geschaftsfuhrer``; Japanese voiced kana keep their marks), folds
case and width (NFKC: full-width ``ＣＥＯ`` -> ``ceo``), writes ``FP&A`` as ``fpa`` and turns every
run of other characters into one space.

:func:`title_script` says which script a title's letters are in: ``latin``, ``cjk`` (Han,
Hiragana, Katakana) or ``other`` (Cyrillic, Arabic, Hangul, Greek, Hebrew, Devanagari, Thai, ...,
which the classifier has no training titles for), or ``none`` (no letter at all).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd

#: Values that mean "no title" (matched on the whole normalized title).
PLACEHOLDER = re.compile(r"^(?:n a|na|none|null|nil|unknown|tbd|tba|not specified|not available|x+|"
                         r"no title|title|job title|[-?.]+)$")

_FPA = re.compile(r"\bfp\s*(?:&|and)\s*a\b")
_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """A Latin letter without its accents (``é`` -> ``e``); any other character unchanged."""
    if ch.isascii() or not ch.isalpha():
        return ch
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return ch
    if name.startswith("LATIN"):
        base = unicodedata.normalize("NFKD", ch)
        return "".join(c for c in base if not unicodedata.combining(c)) or ch
    return ch


def normalize_title(title) -> str:
    """Lower-case words of any script separated by single spaces (``None``/NaN -> ``""``).

    ``Sr.`` -> ``sr``, ``Geschäftsführer`` -> ``geschaftsfuhrer``, ``FP&A`` -> ``fpa``,
    ``Co-founder`` -> ``co founder``, ``ソフトウェア・エンジニア`` -> ``ソフトウェア エンジニア``,
    ``ＣＴＯ`` -> ``cto``.
    """
    if title is None or title is pd.NA or (isinstance(title, float) and np.isnan(title)):
        return ""
    text = unicodedata.normalize("NFKC", str(title))
    text = "".join(_fold_char(ch) for ch in text).casefold()
    text = _FPA.sub("fpa", text)
    return _NON_WORD.sub(" ", text).strip()


@lru_cache(maxsize=4096)
def _char_script(ch: str) -> str:
    if ch.isascii():
        return "latin"
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "other"
    if name.startswith("LATIN"):
        return "latin"
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA")):
        return "cjk"
    return "other"


def title_script(title) -> str:
    """``latin``, ``cjk``, ``other`` (the script of most of the title's letters) or ``none``.

    A title with no letter at all (``""``, ``"123"``, ``"--"``) is ``none``. Otherwise the
    script with most letters wins, ties going to the supported script: ``"CEO Москва"`` (3
    Latin, 6 Cyrillic letters) is ``other``, ``"Senior Программист"`` (6 and 11) is ``other``,
    ``"Head of IT Отдел"`` (8 and 5) is ``latin``.
    """
    return script_of_normalized(normalize_title(title))


def script_of_normalized(norm: str) -> str:
    """:func:`title_script` of a title already passed through :func:`normalize_title`."""
    if norm.isascii():                   # the common case, without a look at every letter's name
        return "latin" if any(ch.isalpha() for ch in norm) else "none"
    counts = {"latin": 0, "cjk": 0, "other": 0}
    for ch in norm:
        if ch.isalpha():
            counts[_char_script(ch)] += 1
    total = sum(counts.values())
    if not total:
        return "none"
    best = max(("latin", "cjk"), key=counts.get)
    return best if counts[best] >= counts["other"] else "other"


@lru_cache(maxsize=1 << 16)
def content_tokens(norm: str) -> tuple[str, ...]:
    """The tokens that carry meaning for the unknown-words test: words of a Latin title
    without :data:`FILLER` words, plus every pair of adjacent CJK characters (CJK titles have
    no spaces)."""
    out = []
    for w in norm.split():
        if _char_script(w[0]) == "cjk" or any(_char_script(c) == "cjk" for c in w):
            cjk = [c for c in w if _char_script(c) == "cjk"]
            out += [a + b for a, b in zip(cjk, cjk[1:])] or cjk
            rest = "".join(c for c in w if _char_script(c) != "cjk")
            if rest and rest not in FILLER:
                out.append(rest)
        elif w not in FILLER and not w.isdigit():
            out.append(w)
    return tuple(out)


def char_grams(norm: str, n: int = 4) -> list[str]:
    """Character ``n``-grams of the content tokens, each padded with spaces (``" ninja "``)."""
    out = []
    for tok in content_tokens(norm):
        w = f" {tok} "
        out += [w[i:i + n] for i in range(max(len(w) - n + 1, 1))]
    return out


#: Words that say nothing about the function (seniority, connectors in the main languages).
FILLER = frozenset(
    "senior sr junior jr lead head chief principal staff associate deputy interim acting i ii iii iv v "
    "of the and for to in at on a an de la le les des du del y e et und der die das da do dos das em "
    "en el los las il di von fur mit & vp svp evp avp vice global regional group team".split())


#: Function words of German, French, Spanish, Portuguese, Japanese and Chinese titles with their
#: English gloss, written for this project from general knowledge (no source copied). The model
#: learns mostly from English titles; :func:`model_text` appends the gloss of every term found,
#: so ``Finanzbuchhalterin`` also reads ``accountant``. Patterns run on :func:`normalize_title`
#: output; Latin ones are substrings (German compounds), CJK ones are substrings too.
#: Abbreviations (whole words) spelled out, so the model can lean on the spelled-out titles.
ABBREVIATIONS: dict[str, str] = {
    "sde": "software development engineer", "swe": "software engineer", "sre": "site reliability engineer",
    "qa": "quality assurance test", "ml": "machine learning", "devops": "development operations engineer",
    "cto": "chief technology officer", "cio": "chief information officer", "vpe": "vice president engineering",
    "apm|gpm|spm|pm|tpm": "product manager", "cpo": "chief product officer", "po": "product owner",
    "pmm": "product marketing manager", "cfo": "chief financial officer", "fpa": "financial planning analysis",
    "cao": "chief accounting officer", "cpa": "certified public accountant",
    "ciso|cso": "chief information security officer", "soc": "security operations center",
    "grc": "governance risk compliance security", "appsec|infosec|secops": "security",
    "gc|agc|dgc": "general counsel", "clo": "chief legal officer", "dpo": "data protection officer privacy",
    "ceo": "chief executive officer", "md": "managing director", "coo": "chief operating officer",
    "cmo": "chief marketing officer", "cro": "chief revenue officer", "chro": "chief human resources officer",
    "bdr|sdr": "sales development representative", "ae": "account executive sales", "hr": "human resources",
}

GLOSSARY: tuple[tuple[str, str], ...] = tuple((rf"\b(?:{k})\b", v) for k, v in ABBREVIATIONS.items()) + (
    # software engineering
    (r"entwickl|desarroll|desenvolv|developpe|sviluppat|programad|programmier|informatiker|開発|开发|プログラマ|"
     r"程序员|编程", "developer"),
    (r"ingenieur|ingeniero|ingeniera|engenheir|ingegner|エンジニア|工程师|技術者", "engineer"),
    (r"softwar|logiciel|ソフトウェア|软件", "software"),
    (r"architekt|architecte|arquitect|アーキテクト|架构师", "architect"),
    (r"systemadmin|administrateur systeme|administrador de sistemas|インフラ|运维", "systems administrator"),
    (r"\btechni(?:que|scher|co|ca)\b|技術|技术", "technical"),
    (r"informatique|\binformatica\b|\bti\b|情報システム|信息技术", "it"),
    (r"\bdsi\b|最高技術責任者|首席技术官|最高技术官", "chief technology officer"),
    (r"テスト|测试", "test"),
    # finance
    (r"finanz|financier|financeir|financier[oa]|financiera|財務|财务", "finance"),
    (r"buchhalt|comptab|contab|contador|contadora|contable|会計|会计|経理|出纳", "accountant accounting"),
    (r"controlling|contralor|controlador|controle de gestion|管理会計", "controller"),
    (r"tresor|tesorer|tesoureir", "treasurer"),
    (r"rechnungswesen|bilanz", "accounting"),
    (r"kaufmannisch|\bdaf\b", "finance director"),
    (r"監査|审计|wirtschaftsprufer|auditeur", "auditor"),
    (r"最高財務責任者|首席财务官", "chief financial officer"),
    # legal, privacy, compliance
    (r"anwalt|avocat|abogad|advogad|avvocat|弁護士|律师", "lawyer attorney"),
    (r"justi[tz]iar|juridi|juristisch|jurist|\brecht\b|rechtsabteilung|letrad|法務|法务|法律", "legal"),
    (r"datenschutz|protection des donnees|proteccion de datos|protecao de dados|個人情報|数据保护|隐私",
     "privacy data protection"),
    (r"conformite|cumplimiento|conformidade|コンプライアンス|合规", "compliance"),
    (r"ゼネラルカウンセル|首席法务官", "general counsel"),
    (r"知的財産|知识产权|brevet", "intellectual property"),
    # security
    (r"sicherheit|securite|seguridad|seguranca|sicurezza|セキュリティ|安全|脆弱性", "security"),
    (r"サイバー|网络安全", "cyber security"),
    (r"最高情報セキュリティ責任者|首席信息安全官|\brssi\b", "chief information security officer"),
    (r"pentest|penetrationstest|渗透|ペネトレーション", "penetration tester"),
    # product
    (r"produkt|produit|producto|produto|prodotto|プロダクト|製品|商品企画|产品", "product"),
    (r"\bpdm\b", "product manager"),
    # company head
    (r"geschaftsfuhr|directeur general|directrice generale|director general|directora general|diretor geral|"
     r"diretora geral|gerente general|代表取締役|社長|总经理|総経理", "managing director chief executive"),
    (r"grunder|fondat|fundador|創業|创始人|创办人", "founder"),
    (r"inhaber|propietari|proprietari|dueno|オーナー|老板", "owner"),
    (r"vorstand|consejero delegado|董事长|会長|取締役", "board chairman executive"),
    # more function words of German, French, Spanish and Portuguese titles (v3, general knowledge)
    (r"schatzmeist|tesourari|tesoreri|tresoreri", "treasurer treasury"),
    (r"rechnungspruf|revisor|reviseu|auditor de cuentas|auditor de contas|commissaire aux comptes", "auditor"),
    (r"kostenrechn|kostenanaly|\bcustos\b|\bcostes\b|\bcouts\b", "cost accountant"),
    (r"tenedor[a]? de libros|guarda livros|teneur de livres|\bcontas\b|\bcuentas\b|\bcomptes\b", "accounts bookkeeper"),
    (r"presupuest|orcament|haushalt", "budget"),
    (r"advokat|rechtskonsulent|syndikus|rechtsberat|conseil juridique|asesor juridico|consultor juridico", "legal counsel lawyer"),
    (r"rechtsdienst|rechtswes|contentieux|litigio|contencioso", "legal"),
    (r"referendar|patentassessor|patentanwalt|conseil en propriete industrielle", "legal attorney"),
    (r"piratage|pirate|hacker|vulnerab|schwachstell", "security hacker vulnerability"),
    (r"\b(?:red|blue|purple) team", "security offensive defensive"),
    (r"reseau|\bredes\b|\brede\b|netzwerk", "network"),
    (r"servidor|serveur|\bserver\b", "server"),
    (r"\bedv\b|informaticien|informatico|informatica", "it"),
    (r"testeu|testador|probador|\btester", "tester test"),
    (r"\bsi\b|systemes d information|sistemas de informa", "information systems it"),
    (r"benutzeroberflach|interfaces? utilisat|interfaz de usuario|interface do usuario|interface de utilizador",
     "user interface developer"),
    (r"gestion de productos|gestao de produtos|gestion de produits|gamme", "product management"),
    # common OTHER functions
    (r"vertrieb|commercial|comercial|vendedor|vendas|ventas|営業|销售", "sales"),
    (r"mercadeo|マーケティング|市场", "marketing"),
    (r"personal(?:leit|abteil)|ressources humaines|recursos humanos|\brh\b|\brrhh\b|人事|人力资源", "human resources"),
    (r"projekt|projet|proyecto|projeto|プロジェクト|项目", "project"),
    (r"lehrer|enseignant|profesor|professor|教師|教师", "teacher"),
    (r"krankenschwester|infirmi|enfermer|看護|护士", "nurse"),
    (r"assistent|asistente|秘書|秘书|助理", "assistant"),
    (r"maschinenbau|mecanique|mecanic|機械|机械", "mechanical"),
    (r"bauingenieur|genie civil|土木|建築", "civil construction"),
    (r"elektro|electrique|電気|电气", "electrical"),
    (r"wachschutz|werkschutz|vigilant|guardia|agent de securite|警備|保安", "security guard"),
    (r"berater|conseiller|consultor|コンサルタント|顾问", "consultant"),
    (r"einkauf|achats|compras|購買|采购", "purchasing"),
    (r"マネージャー|マネジャー|经理|主管", "manager"),
    (r"leiter|leiterin|responsable|jefe|jefa|chef\b|gerente|gestor|部長|总监|负责人|責任者", "head"),
)
_GLOSSARY = tuple((re.compile(p), g) for p, g in GLOSSARY)


def _within_a_word(pattern: str) -> bool:
    """True if every match of ``pattern`` lies inside one word (no space, ``\\s``, ``\\W`` or ``.``)."""
    return not re.search(r" |\\s|\\W|(?<!\\)\.", pattern)


#: Glossary entries matched word by word (cached per word) and those matched on the whole title.
_WORD_GLOSSARY = tuple((i, re.compile(p)) for i, (p, _) in enumerate(GLOSSARY) if _within_a_word(p))
_PHRASE_GLOSSARY = tuple((i, re.compile(p)) for i, (p, _) in enumerate(GLOSSARY) if not _within_a_word(p))


#: Any word-level entry at all: most words have no gloss, and one search tells so.
_ANY_WORD_GLOSS = re.compile("|".join(f"(?:{rx.pattern})" for _, rx in _WORD_GLOSSARY))


@lru_cache(maxsize=1 << 17)
def _word_glosses(word: str) -> frozenset:
    if not _ANY_WORD_GLOSS.search(word):
        return frozenset()
    return frozenset(i for i, rx in _WORD_GLOSSARY if rx.search(word))


@lru_cache(maxsize=1 << 16)
def model_text(norm: str) -> str:
    """The text the model reads: the normalized title plus the English gloss of every
    :data:`GLOSSARY` term in it (``finanzbuchhalterin`` -> ``finanzbuchhalterin finance
    accountant accounting``)."""
    # the same glosses, in the same order, as [g for rx, g in _GLOSSARY if rx.search(norm)]: a
    # pattern that cannot cross a space matches the title iff it matches one of its words
    hit = set().union(*(_word_glosses(w) for w in norm.split())) if norm else set()
    hit.update(i for i, rx in _PHRASE_GLOSSARY if rx.search(norm))
    extra = [GLOSSARY[i][1] for i in sorted(hit)]
    return f"{norm} {' '.join(extra)}" if extra else norm


_REGION = frozenset("emea apac amer americas latam dach nordics benelux europe european asia anz uk us usa "
                    "global worldwide".split())
_NOISE = re.compile(r"^(?:acting|interim)\s+|\bnorth america\b|\bsouth america\b|\blatin america\b")


def _strip_noise(norm: str) -> str:
    """The normalized title without region words (``emea``, ``north america``, ...) and a leading
    ``acting``/``interim``: they say where or how long, never which function. A title made only
    of them is kept as it is."""
    out = " ".join(w for w in _NOISE.sub(" ", norm).split() if w not in _REGION)
    return out or norm
