"""Reading SPARQL text just enough to decide about a request before the engine sees it.

The engine parses every query; this module only answers three questions that must be settled
first, and are settled lexically, the way the SPARQL 1.1 grammar allows:

- which query form the text is (SELECT, ASK, CONSTRUCT, DESCRIBE): the first keyword after the
  prologue (``Query ::= Prologue ( SelectQuery | ConstructQuery | DescribeQuery | AskQuery )``),
  so that the answer format is negotiated, and a 304 or a cached answer sent, without evaluating;
- whether it is an update (INSERT, LOAD...), to refuse it with the right message;
- which endpoints its SERVICE clauses name, to hold them against the allow-list.

Strings, IRIs and comments are masked first, keeping every offset, so that "SERVICE" inside a
literal or an IRI does not count and positions in the masked text are positions in the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Order matters: long strings before short ones.
_NOT_KEYWORDS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r"|#[^\n]*",
    re.DOTALL,
)
_PROLOGUE = re.compile(
    r"\s*(?:(?:PREFIX\s+[^\s:]*:\s*<\s*>|BASE\s*<\s*>)\s*)*", re.IGNORECASE | re.DOTALL
)
_UPDATE_VERB = re.compile(
    r"(?:INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.IGNORECASE
)
_QUERY_VERB = re.compile(r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)
# A keyword, not part of a variable (?service), a prefixed name (ex:service) or a longer word.
_SERVICE = re.compile(r"(?<![\w?$:])SERVICE(?![\w:-])(?:\s+SILENT(?![\w:-]))?\s*", re.IGNORECASE)
_PREFIX_DECL = re.compile(r"PREFIX\s+([^\s:]*):\s*(<\s*>)", re.IGNORECASE)
_PREFIXED_NAME = re.compile(r"([A-Za-z][\w.-]*)?:([\w-][\w.:%-]*)?")


class QueryForm(StrEnum):
    SELECT = "SELECT"
    ASK = "ASK"
    CONSTRUCT = "CONSTRUCT"
    DESCRIBE = "DESCRIBE"


def _mask(match: re.Match[str]) -> str:
    """The token with its inside blanked: delimiters kept, length kept."""
    token = match.group(0)
    if token.startswith("#"):
        return " " * len(token)
    if token.startswith("<"):
        return "<" + " " * (len(token) - 2) + ">"
    quote = 3 if token[:3] in ('"""', "'''") else 1
    return token[:quote] + " " * (len(token) - 2 * quote) + token[-quote:]


def masked(sparql: str) -> str:
    """The text with strings, IRIs and comments blanked out, every offset unchanged."""
    return _NOT_KEYWORDS.sub(_mask, sparql)


def _after_prologue(text: str) -> str:
    prologue = _PROLOGUE.match(text)
    return text[prologue.end() if prologue else 0 :]


def query_form(sparql: str) -> QueryForm | None:
    """The query form, or None when the text does not start like a query (the parser will say)."""
    verb = _QUERY_VERB.match(_after_prologue(masked(sparql)))
    return QueryForm(verb.group(1).upper()) if verb else None


def looks_like_update(sparql: str) -> bool:
    """True when the first word after the prologue is an update verb (INSERT, LOAD, CLEAR...)."""
    return _UPDATE_VERB.match(_after_prologue(masked(sparql))) is not None


def uses_service(sparql: str) -> bool:
    """True when the query contains the SERVICE keyword (federation)."""
    # Most queries never spell the word: a substring test spares them the regular expressions.
    return "service" in sparql.lower() and _SERVICE.search(masked(sparql)) is not None


def has_dataset_clause(sparql: str) -> bool:
    """True when the query has FROM or FROM NAMED (only dataset clauses use the keyword)."""
    if "from" not in sparql.lower():
        return False
    text = masked(sparql).lower()
    # str.find, then the neighbours by hand: much faster than a case-blind look-behind pattern.
    at = text.find("from")
    while at != -1:
        before = text[at - 1] if at else " "
        after = text[at + 4 : at + 5]
        if not (before.isalnum() or before in "_?$:") and not (after.isalnum() or after in "_:-"):
            return True
        at = text.find("from", at + 4)
    return False


def _prefixes(sparql: str, text: str) -> dict[str, str]:
    """Prefix -> namespace IRI, from the PREFIX declarations (the last one of a prefix wins)."""
    declared: dict[str, str] = {}
    for declaration in _PREFIX_DECL.finditer(text):
        start, end = declaration.span(2)
        declared[declaration.group(1)] = sparql[start + 1 : end - 1].strip()
    return declared


def service_targets(sparql: str) -> list[str | None]:
    """The endpoint each SERVICE clause names, in order; None for a variable or an unknown prefix.

    Relative IRIs are returned as written: they match no allow-list entry, which are absolute.
    """
    text = masked(sparql)
    prefixes: dict[str, str] | None = None
    targets: list[str | None] = []
    for keyword in _SERVICE.finditer(text):
        at = keyword.end()
        if text.startswith("<", at):
            end = text.index(">", at)
            targets.append(sparql[at + 1 : end].strip())
            continue
        name = _PREFIXED_NAME.match(text, at)
        if name is None or not name.group(0):
            targets.append(None)  # a variable: the endpoint is only known while evaluating
            continue
        if prefixes is None:
            prefixes = _prefixes(sparql, text)
        namespace = prefixes.get(name.group(1) or "")
        targets.append(None if namespace is None else namespace + (name.group(2) or ""))
    return targets


_FROM = re.compile(r"(?<![\w?$:])FROM(?![\w:-])\s*(NAMED(?![\w:-]))?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class DatasetClauses:
    """The FROM and FROM NAMED clauses of a query: their graphs and where they are written."""

    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def removed_from(self, sparql: str) -> str:
        """The query with its dataset clauses blanked out (offsets kept)."""
        for start, end in self.spans:
            sparql = sparql[:start] + " " * (end - start) + sparql[end:]
        return sparql


def dataset_clauses(sparql: str) -> DatasetClauses | None:
    """The query's FROM / FROM NAMED graphs, as absolute IRIs; None when a clause names a graph
    this reading cannot resolve (an unknown prefix, a relative IRI: BASE is not applied)."""
    text = masked(sparql)
    prefixes: dict[str, str] | None = None
    default: list[str] = []
    named: list[str] = []
    spans: list[tuple[int, int]] = []
    for keyword in _FROM.finditer(text):
        at = keyword.end()
        if text.startswith("<", at):
            end = text.index(">", at) + 1
            iri = sparql[at + 1 : end - 1].strip()
        else:
            name = _PREFIXED_NAME.match(text, at)
            if name is None or not name.group(0):
                return None
            if prefixes is None:
                prefixes = _prefixes(sparql, text)
            namespace = prefixes.get(name.group(1) or "")
            if namespace is None:
                return None
            end, iri = name.end(), namespace + (name.group(2) or "")
        if ":" not in iri:
            return None
        (named if keyword.group(1) else default).append(iri)
        spans.append((keyword.start(), end))
    return DatasetClauses(tuple(default), tuple(named), tuple(spans))


# --- rewriting for a store that has no pre-binding ---------------------------------------------

_ASK = re.compile(r"ASK\b", re.IGNORECASE)
# The projection variable of the SELECT an ASK is parsed as (check_query in store.py).
ASK_PROBE_VARIABLE = "psm_kg_ask_probe"
_TOKEN = re.compile(
    r"(?P<var>(?<![\w?$:])[?$](?P<name>[A-Za-z0-9_\u00b7\u00c0-\uffff]+))"
    r"|(?P<word>(?<![\w?$:])(?:SELECT|WHERE|FROM|GROUP|ORDER|HAVING|LIMIT|OFFSET|VALUES|AS)"
    r"(?![\w:-]))"
    r"|(?P<punct>[{}()])",
    re.IGNORECASE,
)


def ask_as_select(sparql: str) -> str:
    """The ASK query as a SELECT with the same patterns, to be parsed without being evaluated."""
    text = masked(sparql)
    start = len(text) - len(_after_prologue(text))
    verb = _ASK.match(text, start)
    if verb is None:
        return sparql
    return f"{sparql[:start]}SELECT (1 AS ?{ASK_PROBE_VARIABLE}){sparql[verb.end() :]}"


def substitute(sparql: str, terms: dict[str, str]) -> str:
    """The query with each variable of ``terms`` replaced by its term, as SEP-0007 substitution
    defines it: everywhere outside strings, IRIs and comments.

    ``terms`` maps a variable name (without ``?``) to the term's N-Triples form, as pyoxigraph
    writes a validated term (``str(term)``): never text a client wrote. Where a bare term may not
    stand, it is wrapped: a SELECT projection gets ``(TERM AS ?var)``, so the answer keeps the
    column; GROUP BY and ORDER BY get ``(TERM)``. The target of ``AS`` (in BIND or a projected
    expression) and the variables a VALUES block names stay variables.
    """
    if not terms:
        return sparql
    text = masked(sparql)
    out: list[str] = []
    done = 0
    clause = "body"  # "projection" after SELECT, "modifier" after GROUP BY or ORDER BY
    depth = 0  # parentheses open in the current clause
    after_as = False
    for token in _TOKEN.finditer(text):
        if token.group("punct"):
            punct = token.group("punct")
            if punct == "(":
                depth += 1
            elif punct == ")":
                depth = max(0, depth - 1)
            else:
                clause, depth = "body", 0
            after_as = False
            continue
        word = token.group("word")
        if word is not None:
            upper = word.upper()
            if upper == "SELECT":
                clause, depth = "projection", 0
            elif upper in ("GROUP", "ORDER"):
                clause, depth = "modifier", 0
            elif upper == "VALUES":
                clause, depth = "values", 0  # its variables name columns, up to the "{"
            elif upper in ("WHERE", "FROM", "HAVING", "LIMIT", "OFFSET"):
                clause, depth = "body", 0
            after_as = upper == "AS"
            continue
        name = token.group("name")
        if name not in terms or after_as or clause == "values":
            after_as = False
            continue
        term = terms[name]
        if clause == "projection" and depth == 0:
            replacement = f"({term} AS {token.group('var')})"
        elif clause == "modifier" and depth == 0:
            replacement = f"({term})"
        else:
            replacement = term
        out.append(sparql[done : token.start()])
        out.append(replacement)
        done = token.end()
    out.append(sparql[done:])
    return "".join(out)
