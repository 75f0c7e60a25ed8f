"""Company-head and CEO words, and the role words and separators of combined titles.

Read by the classifier's ``chief_executive`` and ``head_with_function``/``head_of_company`` rules
(:mod:`.model`) and by the labeling rules of the public data (:mod:`.label_rules`), so that the
data leaves out exactly the titles whose head word the classifier would read as the company head.
"""

from __future__ import annotations

import re

#: An OTHER part decides only if it names a role (``COO``, ``Head of Growth``), not a place or company.
_ROLE_WORD = re.compile(r"\b(?:c[a-z]{1,2}o|chief|officer|head|director|manager|lead|vp|vice president|partner|"
                        r"leiter\w*|directeur|directrice|director[a]?|diretor[a]?|gerente|jefe|responsable)\b|"
                        r"部長|总监|经理|負責|负责")

_CEO = (r"\bceo\b|\bchief executive\b|\bpdg\b|\bpresident directeur general\b|\bpresidente ejecutivo\b|"
        r"\bvorstandsvorsitzende|\bconsejero delegado\b|\bdiretor presidente\b|代表取締役|最高経営責任者|"
        r"首席执行官|(?<!副)社長|(?<!副)总裁")
_NOT_THE_CEO = (r"\b(?:assistant|assistente|asistente|assistentin|secretary|secretaria|secretaire|sekretar\w*|"
                r"chief of staff|office|advisor|adviser)\b|\b(?:to|for|of|du|de|del|der|des) (?:the |la |le )?"
                r"(?:ceo|pdg)\b|秘書|秘书|助理")
_HEAD = (r"\bco ?founder\b|\bfounder\b|\bcofundador[a]?\b|\bfundador[a]?\b|\bco fundador[a]?\b|\bfondat(?:eur|rice)\b|"
         r"\bcofondat(?:eur|rice)\b|\b(?:mit)?grunder(?:in)?\b|\bsocio fundador\b|\bsocio fundadora\b|"
         r"(?:^|\b(?:business|company|co|sole|shop|store|agency|practice|firm|franchise|restaurant) )owner\b|"
         r"\binhaber(?:in)?\b|"
         r"\bmanaging (?:director|partner)\b|\bexecutive director\b|\bgeneral manager\b|"
         r"(?<!vice )\bpresident(?:e|a)?\b|\bchair(?:man|woman|person)\b|\b(?:board )chair\b|^chair$|\bgeschaftsfuhrer(?:in)?\b|"
         r"\bdirect(?:eur|rice) general[e]?\b|\bdirector[a]? general\b|\bdiretor[a]? geral\b|"
         r"\bgerente general\b|\bdirector[a]? ejecutiv[oa]\b|\bdiretor[a]? executiv[oa]\b|\bgerant[e]?\b|"
         r"\bdirigeant[e]?\b|\bpropietari[oa]\b|\bproprietari[oa]\b|\bdueno\b|\bdona\b|"
         r"共同創業者|創業者|创始人|联合创始人|董事长|総経理|总经理|代表|オーナー")
_SPLIT = re.compile(r"\s*(?:&|/|\||,|;|\+| and | und | et | e | y | - |兼|・)\s*")
