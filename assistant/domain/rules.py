"""``RuleExtractor``: the deterministic extractor, used when no model is configured and
whenever the model fails. It reads commands ("back", "cancel", "submit"...), project,
environment and module names ("production" -> prod; "bucket" -> s3-bucket by the module
definition's keywords and synonyms), presets, and config values written as ``key=value``,
``key: value``, "set X to Y", "name is X", "called X", numbers with units, booleans ("with
versioning", "no force destroy") and enum values. Fields are named by their name, title and
``x-tfpilot-synonyms`` (data in the module definition). Everything it returns is a candidate:
the registry's parser reads values and the registry validates them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant.domain.chat_model import Candidates, ExtractionContext, Intent, ModuleInfo
from assistant.domain.fields import (
    CANONICAL_UNIT,
    NUMBER_WITH_UNIT,
    UNITS,
    CoercionError,
    ConfigField,
    UnitMismatch,
    coerce,
    convert,
    dimension_of,
    field_infos,
    norm,
    own_phrases,
    parse_bool,
    words,
)
from module_registry.parsing import match_enum, suggest_enum

# Aliases of environment names; each group maps to whichever member the projects map uses.
ENV_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"prod", "production", "prd"}),
    frozenset({"dev", "development", "develop", "devel"}),
    frozenset({"staging", "stage", "stg"}),
    frozenset({"test", "testing"}),
    frozenset({"qa"}),
    frozenset({"sandbox", "sbx"}),
    frozenset({"uat"}),
    frozenset({"preprod", "pre-prod", "pre-production"}),
)
_NEGATIONS = frozenset({"no", "not", "without", "disable", "disabled", "dont", "don", "never", "off", "skip", "w/o"})
_AFTER_FALSE = frozenset({"off", "disabled", "false", "no", "none"})
_AFTER_TRUE = frozenset({"on", "enabled", "true", "yes"})
_VERBS = frozenset(
    {
        "set",
        "change",
        "make",
        "update",
        "put",
        "use",
        "with",
        "and",
        "the",
        "a",
        "an",
        "its",
        "it",
        "my",
        "please",
        "also",
        "switch",
        "move",
        "let",
        "lets",
        "s",
    }
)
# Single words too generic to identify a field on their own.
_GENERIC = frozenset(
    {
        "size",
        "name",
        "type",
        "enable",
        "enabled",
        "count",
        "number",
        "days",
        "seconds",
        "time",
        "class",
        "mode",
        "policy",
        "the",
        "of",
        "in",
        "for",
        "max",
        "min",
        "maximum",
        "minimum",
        "default",
        "allow",
        "is",
        "key",
        "id",
    }
)

_CMD_TAIL = r"(?:\s+(?:it|this|that|the request|request|now|please|pls|thanks|thank you))*\s*[.!]*"
_COMMANDS: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    (
        "cancel",
        re.compile(
            r"^(?:(?:actually|ok|okay|oh|hmm+|no|nah|wait|please|sorry|ah|(?:i|we)(?: have|'ve)? changed "
            r"(?:my|our) minds?)[,!.]?\s+)*"
            r"(?:cancel|abort|stop|quit|exit|forget (?:it|about it|about this|this|that)|never ?mind|nvm|"
            r"(?:scratch|scrap|ditch|drop|kill|bin|trash) (?:it|this(?: one)?|that(?: one)?|the request)|don'?t bother|"
            r"no longer needed)"
            r"(?:[\s,.!;-]+(?:it|this|that|this one|that one|the request|request|now|please|pls|thanks|thank you|"
            r"(?:i|we)(?: have|'ve)? changed (?:my|our) minds?|"
            r"(?:i|we) (?:don'?t|do not) (?:need|want) (?:it|this|that)(?: any ?more)?|not needed(?: any ?more)?))*"
            r"\s*[.!]*$"
        ),
    ),
    (
        "start_over",
        re.compile(
            r"^(?:please\s+)?(?:let'?s\s+)?(?:start over|start again|restart|reset|begin again|from scratch|"
            r"start from scratch|new request|start a new request)" + _CMD_TAIL + "$"
        ),
    ),
    ("back", re.compile(r"^(?:go\s+)?(?:back|undo|previous|prev|go back one step|step back)" + _CMD_TAIL + "$")),
    (
        "show_terraform",
        re.compile(
            r"^(?:please\s+)?(?:(?:show|see|print|display|view)\s+(?:me\s+)?(?:the\s+)?(?:terraform|tf|hcl|code|preview)|"
            r"preview|terraform|tf|show terraform|what terraform.*)" + _CMD_TAIL + r"\??$"
        ),
    ),
    (
        "submit",
        re.compile(
            r"^(?:(?:yes|yep|yeah|y|ok|okay|sure|great|perfect|looks good|lgtm)[,!. ]*)*"
            r"(?:submit|confirm|confirmed|create|go|go ahead|do it|ship it|send it|open it|make it so|proceed|"
            r"yes|yep|yeah|y|ok|okay|sure|lgtm|looks good|sounds good|all good|correct|approve)" + _CMD_TAIL + "$"
        ),
    ),
    ("reject", re.compile(r"^(?:no|nope|not yet|wait|hold on|n)" + _CMD_TAIL + "$")),
    ("help", re.compile(r"^(?:help|\?|what can you do|how does this work)\s*[?!.]*$")),
    (
        "list_modules",
        re.compile(
            r"^(?:(?:so|ok|okay|hi|hey|hello)[,!]?\s+)?(?:please\s+)?"
            r"(?:(?:what|which)\s+(?:else\s+)?(?:can|could)\s+(?:you|i|we)\s+(?:create|make|build|provision|set up|"
            r"request|order|get|deploy)|"
            r"(?:what|which)\s+(?:modules|resources|things|services)\b|"
            r"(?:what|which)\s+(?:kinds?|types?|sorts?)\s+of\s+(?:things|resources|modules|infra\w*|stuff)\b|"
            r"(?:list|show|see)\s+(?:me\s+)?(?:all\s+)?(?:the\s+)?(?:available\s+)?"
            r"(?:modules|resources|catalog(?:ue)?|options)\b|"
            r"(?:what'?s|what is)\s+available\b|(?:modules|catalog(?:ue)?)\s*$)"
            r"[^\n]*$"
        ),
    ),
)
# "status of req_...", "what's the status of my team-logs bucket", "my requests".
_REQUEST_ID = re.compile(r"\breq_[A-Za-z0-9]{4,40}\b")
_STATUS = re.compile(
    r"\b(?:status|state|progress)\b|\bhow\s+is\s+(?:my|the)\b|\bwhere\s+is\s+(?:my|the)\b|\bwhat\s+happened\s+to\b",
    re.IGNORECASE,
)
# Next to a request id, these words ask about it too ("any news on req_…", "how's req_… doing?");
# alone they are too common ("update the name") to mean a status question.
_STATUS_OF_ID = re.compile(
    r"\b(?:news|updates?|word)\s+(?:on|about|for)\b|\bhow'?s\b|\bhow\s+(?:is|are)\b|"
    r"\b(?:done|ready|finished|merged|applied)\s+yet\b|\bwhere\s+(?:is|are)\b",
    re.IGNORECASE,
)
_MY_REQUESTS = re.compile(
    r"^(?:please\s+)?(?:(?:show|list|see|get)\s+(?:me\s+)?)?(?:all\s+)?(?:my|our)\s+"
    r"(?:open\s+|recent\s+|pending\s+)?(?:requests|reqs|changes|pull requests|prs)\b[^\n]*$|"
    r"^what\s+(?:did|have)\s+i\s+(?:requested|request|asked for|ask for)\b",
    re.IGNORECASE,
)
_STATUS_NAME = re.compile(r"\b(?:my|the|our)\s+([a-z0-9][a-z0-9._-]{1,62})\b", re.IGNORECASE)
# A message that asks something rather than answers: a question mark, or not knowing.
_ASKS = re.compile(
    r"\?\s*$|\?\s|^(?:i\s+)?(?:don'?t|do not)\s+know\b|^(?:not sure|no idea|unsure|dunno)\b|"
    r"\b(?:what|which|how)\b[^.?!]*\b(?:do we have|can i use|are there|are available|are the options)\b",
    re.IGNORECASE,
)
# A request that is phrased as a question still sets values ("can you make it fifo?").
_REQUEST_QUESTION = re.compile(
    r"^(?:can|could|would|will)\s+(?:you|we|i)\b|^(?:how|what)\s+about\b|^(?:maybe|perhaps)\b", re.IGNORECASE
)
# Things people ask for that no module creates: said back plainly ("I can't create a Kubernetes
# cluster") instead of being read as the nearest module ("redis server" is not an EC2 instance).
_ELSEWHERE = (
    "kubernetes", "k8s", "eks", "ecs", "fargate", "memcached", "redis", "elasticache", "valkey", "elasticsearch",
    "opensearch", "kafka", "msk", "lambda", "lambda function", "cloud function", "vpc", "load balancer", "alb",
    "elb", "nlb", "cloudfront", "cdn", "route53", "route 53", "dns zone", "hosted zone", "mongodb", "mongo",
    "documentdb", "mysql", "mariadb", "aurora", "redshift", "kinesis", "step function", "step functions",
    "api gateway", "cognito", "efs", "eventbridge", "glue", "athena", "emr", "sagemaker", "cassandra",
    "keyspaces", "neptune", "rabbitmq", "activemq", "amazon mq", "nat gateway", "transit gateway", "waf",
    "secrets manager", "secret", "ssm parameter", "cloudwatch alarm", "dashboard",
)  # fmt: skip
_ELSEWHERE_RX = re.compile(
    r"(?<![\w.-])(" + "|".join(re.escape(t) for t in sorted(_ELSEWHERE, key=len, reverse=True)) + r")"
    r"(?:\s+(cluster|server|instance|database|db|domain|function|queue|cache|topic|broker|stream|table))?"
    r"(?![\w-])",
    re.IGNORECASE,
)

_PAIR = re.compile(
    r"(?P<key>[A-Za-z][A-Za-z0-9_.\-' ]{0,60}?)\s*"
    r"(?P<op>=|:(?=\s)|\bto\s+be\b|\bto\b|\bis\b|\bshould\s+be\b|\bof\b|\bas\b)\s*"
    r"(?P<val>\"[^\"]*\"|'[^']*'|`[^`]*`|\[[^\]]*\]|\{[^}]*\}|\d+(?:[.,]\d+)?\s*[A-Za-z]{1,9}\b|[^\s,;]+)"
)
_KV = re.compile(
    r"(?<![\w.:/-])(?P<key>[A-Za-z_][\w.-]*)\s*=\s*"
    r"(?P<val>\"[^\"]*\"|'[^']*'|`[^`]*`|\[[^\]]*\]|\{[^}]*\}|\d+(?:[.,]\d+)?\s*(?:"
    + "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
    + r")\b|[^\s,;]+(?:,(?=[^\s,;]*[A-Za-z0-9])[^\s,;=]+(?=[\s;]|$))*)"
)
# Name cues, with the typos people make ("calld", "callled", "nammed") and the cue words of a
# few other languages ("llamado", "appelée", "namens"): a name is only ever read after one.
_NAME_FORM = re.compile(
    r"\b(?:c+a+l+e*d|n+a+m+e*d|call\s+it|name\s+it|name|llamad[oa]|con\s+nombre|nombrad[oa]|"
    r"appel[ée]+s?|nomm[ée]+s?|genannt|namens|chiamat[oa]|denominad[oa])\s+(?P<val>\"[^\"]+\"|'[^']+'|`[^`]+`|[A-Za-z0-9][\w.\-/]*)",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:(?:it'?s|it\s+is|use|make\s+it|set\s+it\s+to|let'?s\s+(?:go\s+with|use)|go\s+with|how\s+about|"
    r"please|i\s+want|i'?d\s+like|we\s+need|just|maybe|the|a|an)\s+)+",
    re.IGNORECASE,
)
# "a bucket team-logs", "queue orders_events_v2": an identifier right after the module word.
# Capitals only in an identifier-looking word ("Bad_Name" is a name to refuse, "For" is not).
# "Bucket: exports-tmp", "topic for price changes: price-changes": a label, a colon, the name.
_NAME_AFTER_MODULE = re.compile(
    r"(?:\s*:\s*|\s+)[\"'`]?([a-z0-9][a-z0-9._-]*|[A-Za-z0-9]*[A-Z][A-Za-z0-9]*[_-][A-Za-z0-9._-]*)[\"'`]?"
    r"(?![\w-]|\.\w)"
)
_LABELLED_NAME = re.compile(
    r"\s+(?:for|of)\s+[^:,;|\n]{1,40}?:\s*[\"'`]?([a-z0-9][a-z0-9_-]*[-_][a-z0-9_-]*|[a-z0-9]+)[\"'`]?(?=[\s,;|.!]|$)"
)
_NAME_LIKE = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
# An identifier as people write names: words joined by "-" or "_" ("relatorios-q3").
_IDENTIFIER = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)+")
_WORD_AFTER = re.compile(r"\s+([^\s,;|:!?]+)")
_PLAIN_WORD = re.compile(r"[a-zà-ÿß]+")
# Words that follow a module word without being its name ("a bucket for logs").
_NOT_NAMES = frozenset(
    {
        "in", "for", "with", "without", "called", "named", "that", "which", "to", "on", "at", "and", "or", "please",
        "pls", "name", "the", "a", "an", "of", "from", "into", "so", "as", "by", "we", "i", "it", "is", "are",
        "should", "would", "will", "can", "could", "where", "using", "via", "under", "here", "there", "now",
        "too", "also", "then", "thanks", "thx", "like", "this", "these", "those", "our", "my", "your", "their",
        "but", "if", "when", "per", "each", "every", "all", "some", "any", "new", "one", "two", "just", "only",
        "setup", "set", "up", "please,", "asap", "today", "quickly", "again", "instead",
    }
)  # fmt: skip
_NOT_NAME_BEFORE = frozenset({"display", "db", "database", "user", "host", "domain", "dns", "attribute", "profile"})
_PRESET_FORMS = (
    re.compile(r"\bpreset\s+([\w.-]+)", re.IGNORECASE),
    re.compile(r"([\w.-]+)\s+preset\b", re.IGNORECASE),
)
_USE_DEFAULT = re.compile(
    r"^(?:use\s+(?:the\s+)?)?(?:default|defaults|skip|leave it|whatever|don'?t care|none)\s*[.!]*$"
)


# A question about something ("what is fifo?", "how long is the retention?"), as opposed to a
# request phrased as one ("can you make it fifo?", "how about 3 days").
_QUESTION = re.compile(
    r"^(?:what(?:'s|s)?\s+(?:is|are|does|do|means?|kind|options?|values?|choices?)\b|what'?s\s+(?!about\b)\w|"
    r"whats\s+(?!about\b)\w|why\b|how\s+(?:do|does|long|many|much|big|is|are|can)\b|explain\b|"
    r"tell\s+me\s+(?:about|more)\b|describe\b|meaning\s+of\b)"
)


def detect_intent(text: str) -> Intent:
    """A whole-message command, or "none"."""
    low = " ".join(text.lower().split()).strip()
    for intent, pattern in _COMMANDS:
        if pattern.match(low):
            return intent
    return "none"


_NAME_CUE_TYPO = re.compile(r"c+a+l+e*d|n+a+m+e*d|llamad[oa]|nombre|appel[ée]+s?|nomm[ée]+s?|genannt|namens")


def _near_module_word(word: str, modules: list[ModuleInfo]) -> bool:
    """Is ``word`` a near miss of a word the registry uses for a module ("bukcet", "queeu")?"""
    if len(word) < 4 or not word.isalpha():
        return False
    vocab = {w for info in modules for p in module_phrases(info) for w in p.split() if len(w) >= 4}
    forms = {word, word.rstrip("s"), word + "s"}
    if forms & vocab:
        return False  # a real word ("events"), not a misspelling
    # A typo keeps the length (a swapped, doubled or dropped letter); "worker" is not "work".
    return any(
        abs(len(word) - len(w)) <= 1
        and not (word.startswith(w) or w.startswith(word))
        and difflib.SequenceMatcher(None, word, w).ratio() >= 0.8
        for w in vocab
    )


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
        return value[1:-1]
    if len(value) >= 2 and value[0] in "\u201c\u2018" and value[-1] in "\u201d\u2019":
        return value[1:-1]
    return value.rstrip(".!?")


def _boundary(phrase: str) -> re.Pattern[str]:
    parts = [re.escape(w) for w in words(phrase)]
    if not parts:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![\w.-])" + r"[\s_-]+".join(parts) + r"s?(?![\w-]|\.\w)", re.IGNORECASE)


def _stem(word: str) -> str:
    for suffix in ("ation", "ing", "ion", "ed", "es", "s", "d", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _stem_pattern(phrase: str) -> re.Pattern[str]:
    # Short words are matched whole: "ha" (high availability) must not match "have".
    parts = [re.escape(_stem(w)) + r"\w*" if len(w) >= 4 else re.escape(w) + "s?" for w in words(phrase)]
    if not parts:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![\w-])" + r"[\s_-]+".join(parts) + r"(?![\w-])", re.IGNORECASE)


@dataclass
class _Text:
    """The message with consumed spans blanked out, so nothing is read twice."""

    original: str
    work: str
    # value start -> a shorter key to try first ("database name=x" opening a message names
    # the module, then the field: "name").
    alt_keys: dict[int, str] = field(default_factory=dict)

    def mask(self, start: int, end: int) -> None:
        self.work = self.work[:start] + " " * (end - start) + self.work[end:]

    def find(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return list(pattern.finditer(self.work))


@dataclass(frozen=True)
class _Quantity:
    start: int
    end: int
    value: float
    unit: str | None


def env_aliases(environments: Iterable[str]) -> dict[str, str]:
    """alias -> environment name, for the names the projects map uses."""
    out: dict[str, str] = {}
    for env in environments:
        out[env.lower()] = env
        for group in ENV_GROUPS:
            if env.lower() in group:
                for alias in group:
                    out.setdefault(alias, env)
    return out


def module_phrases(info: ModuleInfo) -> list[str]:
    # The registry's words for the module: its id, title, keywords and synonyms (the
    # definition's data, where teams add the words they use).
    phrases = {info.id, info.id.replace("-", " "), info.title, *info.keywords, *info.synonyms}
    return sorted({norm(p) for p in phrases if norm(p)}, key=len, reverse=True)


_TOKEN = re.compile(r"[^\s,;()\"'`<>\[\]{}]+")
_STOP_VALUES = frozenset(
    {"and", "with", "in", "for", "to", "is", "the", "a", "an", "of", "on", "off", "as", "please", "plus", "but", "also"}
)
# Strings a specific pattern (an id or ARN shape) never matches; a pattern matching one of
# them is a general name pattern and says nothing about which field a token belongs to.
_PROBES = ("orders", "team-logs", "abc", "a", "x1", "my_table", "pk", "expires_at", "Order", "prod", "app")


def _compiled(pattern: Any) -> re.Pattern[str] | None:
    if not isinstance(pattern, str):
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _specific_pattern(f: ConfigField) -> re.Pattern[str] | None:
    raw = f.schema.get("pattern")
    if f.kind == "list":
        items = f.schema.get("items")
        raw = items.get("pattern") if isinstance(items, dict) else None
    elif f.kind != "text":
        return None
    rx = _compiled(raw)
    if rx is None or any(rx.fullmatch(p) for p in _PROBES):
        return None
    return rx


def _enum_patterns(label: str) -> list[re.Pattern[str]]:
    compact = re.sub(r"[\s_.-]", "", label.lower())
    if len(label) <= 3 or not compact.isalpha():
        # Short or dotted values ("t3.micro", "16", "KMS") are matched as written.
        out = [re.compile(r"(?<![\w.-])" + re.escape(label) + r"(?![\w-]|\.\w)", re.IGNORECASE)]
        if label.lower().startswith("db.") and len(label) > 6:
            out.append(re.compile(r"(?<![\w.-])" + re.escape(label[3:]) + r"(?![\w-]|\.\w)", re.IGNORECASE))
        return out
    # "PAY_PER_REQUEST" is also "pay per request" and "payperrequest".
    return [re.compile(r"(?<![\w-])" + r"[\s_.-]?".join(re.escape(c) for c in compact) + r"(?![\w-])", re.IGNORECASE)]


def field_phrases(f: ConfigField) -> list[str]:
    """How a user may name field ``f`` (normalized), longest first."""
    out = set(own_phrases(f)) | {norm(h) for h in f.synonyms}
    # "Enable versioning" is named by "versioning".
    for p in list(out):
        for lead in ("enable ", "enabled ", "use ", "is ", "allow "):
            if p.startswith(lead) and len(p) > len(lead) + 3:
                out.add(p[len(lead) :])
    return sorted((p for p in out if p), key=len, reverse=True)


def names_field(text: str, f: ConfigField) -> bool:
    """Does ``text`` (a message, or an error message) name field ``f``?"""
    return any(_stem_pattern(p).search(text) for p in [*own_phrases(f), *map(norm, f.synonyms)] if p not in _GENERIC)


def name_field(fields: list[ConfigField]) -> ConfigField | None:
    """The field "called X" names: ``name``, else the first required ``*_name``/``name*`` string."""
    strings = [f for f in fields if f.kind == "text"]
    for f in strings:
        if f.name == "name":
            return f
    for pool in ([f for f in strings if f.required], strings):
        for f in pool:
            if f.name.endswith("name") or f.name.startswith("name") or "name" in norm(f.heading).split():
                return f
    for f in strings:
        if f.name in ("identifier", "id"):
            return f
    return None


_MAP_PAIR = re.compile(r"(?P<key>[\w.:/-]+?)\s*[=:]\s*(?:\"[^\"]*\"|'[^']*'|[^,;\s]+)")
_MAP_SEP = re.compile(r"\s*,\s*|\s+and\s+|\s+")


def _map_named_before(before: str, fields: list[ConfigField]) -> ConfigField | None:
    for f in fields:
        if f.kind != "map":
            continue
        for phrase in field_phrases(f):
            if phrase not in _GENERIC and re.search(
                _boundary(phrase).pattern + r"\s*(?:[:=]|\bare\b|\bis\b|\bof\b)?\s*$", before, re.IGNORECASE
            ):
                return f
    return None


def _enum_words(f: ConfigField, rest: str) -> tuple[str, int] | None:
    """The longest run of 2-4 words opening ``rest`` (within its clause) that spells an option
    of ``f`` closely, and its length in characters."""
    clause = re.match(r"[^,;\n]*", rest)
    spans = [m.end() for m in re.finditer(r"\S+", clause.group(0) if clause else "")]
    for n in range(min(len(spans), 4), 1, -1):
        said = rest[: spans[n - 1]]
        # A near miss is read too: the parser then refuses it, offering the option.
        if match_enum(f, said) is not None or suggest_enum(f, said, cutoff=0.85) is not None:
            return rest[: spans[n - 1]], spans[n - 1]
    return None


class RuleExtractor:
    name = "rules"

    def extract(self, message: str, context: ExtractionContext) -> Candidates:
        cand = Candidates(extractor=self.name)
        text = _Text(message, message)
        cand.intent = detect_intent(message)
        if cand.intent == "list_modules":
            # "which services can assume it?" asks about a field of the module, not the catalogue.
            about = [f.name for f in field_infos(context.module_schema) if names_field(message, f)]
            if about:
                cand.intent, cand.about = "help", about
            return cand
        if cand.intent in ("cancel", "back", "start_over", "help", "show_terraform"):
            return cand
        low = " ".join(message.lower().split())
        if self._status(message, context, cand):
            return cand
        if self._question(message, low, context, cand):
            return cand

        pairs = self._explicit_pairs(text)
        labelled: list[str] = []
        for key, op, raw, start, end in pairs:
            # A value given as key=value is never read as a project, environment or module name.
            if op in ("=", "==", ":") and self._resolve_key(key, [], fuzzy=False) is None:
                text.mask(start, end)
                # "Queue: ingest-events": a module word as the label, the name as the value.
                value = _unquote(raw)
                label = re.split(r"\s+(?:for|of)\s+", norm(key), maxsplit=1)[0]  # "topic for price changes"
                if op == ":" and self._match_module(label, context.modules) and _NAME_LIKE.fullmatch(value):
                    labelled.append(value)
        named = self._name_forms(text) or labelled
        after_module = self._names(text, context, cand, pairs)
        if self._elsewhere(message, context, cand):
            return cand
        module = context.module_info(cand.module or context.module)
        fields = field_infos(module.config_schema if module else context.module_schema)
        by_name = {f.name: f for f in fields}

        self._resolve_pairs(text, pairs, fields, cand)
        if after_module and not named:
            named = [after_module]
            for m in text.find(re.compile(r"(?<![\w.-])" + re.escape(after_module) + r"(?![\w-]|\.\w)")):
                text.mask(m.start(), m.end())
                break
        nf = name_field(fields)
        if nf is not None and named and nf.name not in cand.config:
            cand.config[nf.name] = named[0]
        if module is not None:
            self._preset(text, module, cand)
        self._patterned(text, fields, cand)
        self._enums(text, fields, cand)
        self._adjacent_text(text, fields, cand, context)
        self._numbers(text, fields, cand, context.pending_field)
        self._booleans(text, fields, cand)
        self._pending(message, context, by_name, cand, text.work)
        if not fields and named and cand.module is None and context.module is None:
            # A name given before the module is known: keep it for the module's name field.
            cand.config.setdefault("name", named[0])
        # A bare "yes" answering a yes/no question is a value, not a submit.
        if cand.intent in ("submit", "reject") and context.pending_field in cand.config:
            cand.intent = "none"
        return cand

    # --- explicit key/value forms ------------------------------------------------------
    def _explicit_pairs(self, text: _Text) -> list[tuple[str, str, str, int, int]]:
        out = []
        # "name=x project=core": identifier=value pairs first, so a prefix such as "sqs:"
        # never swallows them.
        for match in text.find(_KV):
            # The words just before the identifier may be part of the field's name:
            # "storage class=GLACIER" (op "==" marks this form).
            lead = re.search(r"((?:[A-Za-z][\w-]*\s+){0,3})$", text.work[: match.start()])
            key = ((lead.group(1) if lead else "") + match.group("key")).strip()
            if lead and lead.group(1) and not text.work[: lead.start()].strip():
                text.alt_keys[match.start("val")] = match.group("key")
            out.append((key, "==", match.group("val"), match.start("val"), match.end("val")))
            text.mask(match.start(), match.start("val"))
        for match in text.find(_PAIR):
            key = match.group("key").strip()
            op = match.group("op").lower()
            out.append((key, " ".join(op.split()), match.group("val"), match.start("val"), match.end("val")))
        return out

    def _name_forms(self, text: _Text) -> list[str]:
        found = []
        for match in text.find(_NAME_FORM):
            value = _unquote(match.group("val"))
            if value.lower() in {"is", "to", "of", "as", "be", "it", "the"}:
                continue
            before = words(text.work[max(0, match.start() - 12) : match.start()])
            if before and before[-1] in _NOT_NAME_BEFORE and re.match(r"name\s", match.group(0).lower()):
                continue  # "display name X" is another field
            found.append(value)
            text.mask(match.start("val"), match.end("val"))
        return found

    def _resolve_key(self, key: str, fields: list[ConfigField], *, fuzzy: bool) -> ConfigField | str | None:
        key_words = [w for w in words(key.replace("_", " ")) if w]
        while key_words and key_words[0] in _VERBS:
            key_words = key_words[1:]
        if not key_words:
            return None
        phrases: dict[str, ConfigField | str] = {}
        for f in fields:
            for p in own_phrases(f):
                phrases.setdefault(p, f)
        for f in fields:
            for p in field_phrases(f):
                phrases.setdefault(p, f)
        for meta, aliases in (
            ("project", ("project", "team project")),
            ("environment", ("environment", "env", "stage")),
            ("module", ("module", "resource", "resource type", "module type", "kind")),
        ):
            for alias in aliases:
                phrases.setdefault(alias, meta)
        for i in range(len(key_words)):
            phrase = " ".join(key_words[i:])
            if phrase in phrases:
                return phrases[phrase]
        if fuzzy:
            for i in range(max(0, len(key_words) - 3), len(key_words)):
                phrase = " ".join(key_words[i:])
                close = difflib.get_close_matches(phrase, list(phrases), n=1, cutoff=0.85)
                if close:
                    return phrases[close[0]]
        return None

    def _resolve_pairs(
        self, text: _Text, pairs: list[tuple[str, str, str, int, int]], fields: list[ConfigField], cand: Candidates
    ) -> None:
        spent: list[tuple[int, int]] = []  # values read so far: a pair inside one is part of it
        for key, op, raw, start, value_end in pairs:
            if any(s <= start < e for s, e in spent):
                continue
            end = value_end
            strong = op in ("=", "==", ":")
            target = None
            if start in text.alt_keys:
                target = self._resolve_key(text.alt_keys[start], fields, fuzzy=False)
            target = target or self._resolve_key(key, fields, fuzzy=strong)
            value = _unquote(raw)
            if target is None and op == "==":
                # "with tags team=payments owner=bob", "tags: team=x": the words before the first
                # pair name a map field, and the run of pairs is its value.
                begin = text.original.rfind(key.split()[-1], 0, start)
                lead = _map_named_before(text.original[: max(begin, 0)], fields)
                run = self._map_run(text.original, begin, fields) if begin >= 0 and lead is not None else None
                if lead is not None and run is not None and lead.name not in cand.config:
                    self._set(cand, lead, run[0])
                    spent.append((begin, run[1]))
                    text.mask(begin, run[1])
                    continue
            if target is None:
                if op == "==":
                    cand.unknown_fields.append(key.split()[-1])
                    continue
                key_words = [w for w in words(key) if w not in _VERBS]
                if strong and 1 <= len(key_words) <= 3:
                    cand.unknown_fields.append("_".join(key_words))
                continue
            if isinstance(target, str):
                continue  # project/environment/module: matched against the known names below
            if target.name in cand.config:
                continue
            if target.kind == "text" and "description" in target.name and raw[:1] not in "\"'`":
                # "description is logs for the payments team" runs to the end of the clause.
                clause = re.match(r"[^,;\n]*", text.original[start:])
                value = (clause.group(0) if clause else raw).strip().rstrip(".!") or value
                end = start + len(clause.group(0)) if clause else end
            if target.kind == "boolean" and op == "of":
                continue
            if target.enum and raw[:1] not in "\"'`":
                # "instance class to t4g medium": an option written in several words.
                spread = _enum_words(target, text.original[start:])
                if spread is not None:
                    value, end = spread[0], start + spread[1]
            if target.kind == "map" and raw[:1] not in "{\"'`":
                # "tags = team=payments, cost-center=42": every pair of the run belongs to the map.
                run = self._map_run(text.original, start, fields)
                if run is not None:
                    value, end = run
            self._set(cand, target, value)
            spent.append((start, end))
            text.mask(start, end)

    def _map_run(self, text: str, start: int, fields: list[ConfigField]) -> tuple[str, int] | None:
        """The ``k=v`` pairs from ``start`` on, up to one whose key names something else
        (``project=core``, ``versioning=off``): the value of a map field, and where it ends."""
        end = start
        at = start
        while True:
            pair = _MAP_PAIR.match(text, at)
            if pair is None or (end > start and self._resolve_key(pair.group("key"), fields, fuzzy=False)):
                break
            end = pair.end()
            sep = _MAP_SEP.match(text, end)
            if sep is None:
                break
            at = sep.end()
        return (text[start:end], end) if end > start else None

    @staticmethod
    def _set(cand: Candidates, target: ConfigField, value: str) -> None:
        try:
            cand.config[target.name] = coerce(target, value)
        except CoercionError as exc:
            cand.problems[target.name] = str(exc)

    # --- project, environment, module ---------------------------------------------------
    def _names(
        self, text: _Text, context: ExtractionContext, cand: Candidates, pairs: list[tuple[str, str, str, int, int]]
    ) -> str | None:
        """Sets project/environment/module; returns an identifier written right after the module
        word ("a bucket team-logs"), which is most likely its name."""
        envs = env_aliases(context.environments)
        # Explicit "environment: prod", "project=payments", "module is queue" first.
        for key, _op, raw, start, end in pairs:
            target = self._resolve_key(key, [], fuzzy=False)
            value = norm(_unquote(raw))
            if target == "environment" and value in envs:
                cand.environment = envs[value]
                text.mask(start, end)
            elif target == "project":
                for project in context.projects:
                    if norm(project) == value:
                        cand.project = project
                        text.mask(start, end)
            elif target == "module":
                found = self._match_module(value, context.modules)
                if found is not None:
                    cand.module = found
                    text.mask(start, end)
        if cand.project is None:
            best: tuple[int, str, re.Match[str]] | None = None
            for project in sorted(context.projects, key=len, reverse=True):
                for match in text.find(_boundary(project)):
                    if best is None or match.start() < best[0]:
                        best = (match.start(), project, match)
            if best is not None:
                cand.project = best[1]
                text.mask(best[2].start(), best[2].end())
        if cand.environment is None:
            best_env: tuple[int, str, re.Match[str]] | None = None
            for alias, env in sorted(envs.items(), key=lambda kv: len(kv[0]), reverse=True):
                for match in text.find(re.compile(r"(?<![\w-])" + re.escape(alias) + r"(?![\w-])", re.IGNORECASE)):
                    if best_env is None or match.start() < best_env[0]:
                        best_env = (match.start(), env, match)
            if best_env is not None:
                cand.environment = best_env[1]
                text.mask(best_env[2].start(), best_env[2].end())
        if cand.module is None:
            # Earliest mention wins, but a word that is also a field of some module ("fifo")
            # only counts when nothing stronger is said ("a fifo topic" is a topic).
            weak = {p for info in context.modules for f in field_infos(info.config_schema) for p in own_phrases(f)}
            # Once a module is chosen, the words that name one of its fields are about that field
            # ("change storage to 50 GB", "instance class t4g.medium"), never another module.
            own = self._field_spans(text, context.module_info(context.module))
            best_mod: tuple[tuple[bool, int, int], str, re.Match[str]] | None = None
            for info in context.modules:
                for phrase in module_phrases(info):
                    for match in text.find(_boundary(phrase)):
                        if info.id != context.module and any(s < match.end() and match.start() < e for s, e in own):
                            continue
                        rank = (phrase in weak, match.start(), -len(phrase))
                        if best_mod is None or rank < best_mod[0]:
                            best_mod = (rank, info.id, match)
            if best_mod is not None and best_mod[1] != context.module:
                cand.module = best_mod[1]
            if best_mod is not None:
                # The module word stays readable: "a fifo queue" also sets fifo.
                return self._name_after(text, best_mod[2].end(), best_mod[1], context, envs)
        return None

    @staticmethod
    def _field_spans(text: _Text, module: ModuleInfo | None) -> list[tuple[int, int]]:
        if module is None:
            return []
        spans = []
        for f in field_infos(module.config_schema):
            for phrase in field_phrases(f):
                if phrase in _GENERIC or len(phrase) < 3:
                    continue
                spans += [(m.start(), m.end()) for m in text.find(_boundary(phrase))]
        return spans

    def _name_after(
        self, text: _Text, end: int, module_id: str, context: ExtractionContext, envs: dict[str, str]
    ) -> str | None:
        info = context.module_info(module_id)
        own = {w for p in module_phrases(info) for w in p.split()} if info else set()
        while True:
            after = _NAME_AFTER_MODULE.match(text.work, end)
            if after is None:
                return None
            value = after.group(1)
            low = value.lower()
            if low in own or low.rstrip("s") in own:
                end = after.end()  # "postgres db billing": "db" is still the module word
                continue
            if low in ("for", "of"):
                labelled = _LABELLED_NAME.match(text.work, end)
                if labelled is not None and labelled.group(1) not in envs and labelled.group(1) not in context.projects:
                    return labelled.group(1)  # "topic for price changes: price-changes"
            if low in _NOT_NAMES or low in envs or value in context.projects:
                return None
            if any(low in module_phrases(m) for m in context.modules) or "." in value:
                return None
            if _NAME_CUE_TYPO.fullmatch(low) or _near_module_word(low, context.modules):
                return None  # "s3 bukcet callled x": a misspelt module word or cue is never a name
            if len(value) < 2 or _PLAIN_WORD.fullmatch(value):
                return self._plain_word_name(text, after, info, context, envs)
            return value

    def _plain_word_name(
        self,
        text: _Text,
        after: re.Match[str],
        info: ModuleInfo | None,
        context: ExtractionContext,
        envs: dict[str, str],
    ) -> str | None:
        """A plain word after the module word is its name when what follows ends the phrase ("a
        bucket assets in core"). Followed by an identifier, it was a cue word of some language
        ("bucket chamado relatorios-q3", "queue mit dem namen order-events"): the identifier is
        the name. Followed by other words ("a bucket team logs"), it is not sure: nothing is read
        (the name is asked)."""
        structural = _NOT_NAMES | set(envs) | {p.lower() for p in context.projects}
        structural |= {w for m in context.modules for p in module_phrases(m) for w in p.split()}
        if info is not None:
            structural |= {w for f in field_infos(info.config_schema) for p in field_phrases(f) for w in p.split()}
        value, pos = after.group(1), after.end()
        if value.lower() in structural:
            return None  # "bucket versioning: off" names a field, not the bucket
        for _ in range(4):
            nxt = _WORD_AFTER.match(text.work, pos)
            if nxt is None or nxt.start(1) > pos + 3:
                break  # the message (or the clause) ends: the plain word was the name
            word = nxt.group(1).strip("\"'`").lower()
            if _IDENTIFIER.fullmatch(word) and word not in structural and word not in envs:
                return nxt.group(1).strip("\"'`")
            if word in structural:
                break
            if not _PLAIN_WORD.fullmatch(word):
                break  # a value of some field ("bastion t3.micro"): the plain word was the name
            pos = nxt.end()
            value = ""  # a second plain word: the first was no name on its own
        return value if len(value) >= 2 else None

    def _question(self, message: str, low: str, context: ExtractionContext, cand: Candidates) -> bool:
        """ "what is fifo?" asks about a field; "I don't know, which subnets do we have?" asks about
        the one being asked for. A question never sets a value."""
        asks = _ASKS.search(low) is not None and not _REQUEST_QUESTION.match(low) and len(low.split()) >= 2
        if asks and not context.pending_field and self._match_module_in(low, context.modules) is not None:
            asks = False  # "a bucket called x in core dev?" is a request with a question mark
        if not (_QUESTION.match(low) or (asks and cand.intent == "none")):
            return False
        cand.intent = "help"
        cand.about = [f.name for f in field_infos(context.module_schema) if names_field(message, f)]
        if not cand.about:
            cand.describe = self._match_module_in(low, context.modules)
        if not cand.about and cand.describe is None and context.pending_field:
            cand.about = [context.pending_field]
        elif not cand.about and cand.describe is None and context.step in ("project", "environment"):
            cand.about = [context.step]  # the question being asked: the projects, the environments
        return True

    def _status(self, message: str, context: ExtractionContext, cand: Candidates) -> bool:
        """ "status of req_...", "what's the status of my team-logs bucket", "my requests"."""
        if _MY_REQUESTS.search(message.strip()):
            cand.intent = "my_requests"
            return True
        rid = _REQUEST_ID.search(message)
        if rid is not None and (_STATUS.search(message) or _STATUS_OF_ID.search(message) or len(message.split()) <= 3):
            cand.intent, cand.status_ref = "status", rid.group(0)
            return True
        if not _STATUS.search(message) or context.pending_field:
            return False
        module_words = {w for info in context.modules for p in module_phrases(info) for w in p.split()}
        for found in _STATUS_NAME.finditer(message):
            name = found.group(1)
            if name.lower() not in module_words | {"request", "requests", "status", "pr", "change"}:
                cand.intent, cand.status_ref = "status", name
                return True
        if re.search(r"\b(?:my|the)\s+(?:last\s+)?(?:request|pr|change)\b", message, re.IGNORECASE):
            cand.intent = "my_requests"
            return True
        return False

    def _elsewhere(self, message: str, context: ExtractionContext, cand: Candidates) -> bool:
        """Something no module creates ("a memcached cluster", "redis server"): said plainly
        instead of read as the nearest module."""
        if context.step not in ("project", "environment", "module") and cand.module is None:
            return False
        for found in _ELSEWHERE_RX.finditer(message):
            if re.search(r"\.\w", message[found.end() : found.end() + 2]):
                continue  # lambda.amazonaws.com is a trusted service, not a thing to create
            before = words(message[: found.start()])[-1:]
            if before and before[0] in ("for", "by", "to", "from", "into", "with", "behind", "like"):
                continue  # "a role for lambda", "a queue behind the load balancer"
            module = context.module_info(cand.module)
            suffix = (found.group(2) or "").lower()
            own = {w for p in module_phrases(module) for w in p.split()} if module else set()
            if module is not None and not (suffix and suffix in own):
                continue
            cand.unavailable = " ".join(found.group(0).split())
            cand.module = None
            cand.config = {}
            return True
        return False

    def _match_module_in(self, low: str, modules: list[ModuleInfo]) -> str | None:
        """The module a sentence names (earliest mention), for questions about a module."""
        best: tuple[int, str] | None = None
        for info in modules:
            for phrase in module_phrases(info):
                for match in _boundary(phrase).finditer(low):
                    if best is None or match.start() < best[0]:
                        best = (match.start(), info.id)
        return best[1] if best else None

    @staticmethod
    def _match_module(value: str, modules: list[ModuleInfo]) -> str | None:
        for info in modules:
            if value in module_phrases(info):
                return info.id
        phrases = {p: info.id for info in modules for p in module_phrases(info)}
        close = difflib.get_close_matches(value, list(phrases), n=1, cutoff=0.8)
        return phrases[close[0]] if close else None

    # --- module fields ------------------------------------------------------------------
    def _preset(self, text: _Text, module: ModuleInfo, cand: Candidates) -> None:
        field_words = {p for f in field_infos(module.config_schema) for p in field_phrases(f)}
        for preset in sorted(module.presets, key=len, reverse=True):
            matches = text.find(_boundary(preset))
            if norm(preset) in field_words:
                # "a fifo queue" sets the fifo field; the "fifo" preset needs the word preset.
                matches = [
                    m for m in matches if re.search(r"\bpresets?\b", text.work[max(0, m.start() - 12) : m.end() + 12])
                ]
            if matches:
                cand.preset = preset
                for m in matches:
                    text.mask(m.start(), m.end())
                for m in text.find(re.compile(r"\bpresets?\b", re.IGNORECASE)):
                    text.mask(m.start(), m.end())  # "use preset x" is no answer to the name question
                return
        # "use preset foo" names a preset the module lacks: say so rather than ignore it.
        for pattern in _PRESET_FORMS:
            for named in pattern.finditer(text.work):
                value = _unquote(named.group(1))
                if value.lower() in {"the", "a", "this", "that", "use", "apply", "with", "any", "no"}:
                    continue
                cand.preset = value
                text.mask(named.start(), named.end())
                return

    def _enums(self, text: _Text, fields: list[ConfigField], cand: Candidates) -> None:
        hits: dict[str, list[tuple[ConfigField, Any, re.Match[str]]]] = {}
        for f in fields:
            if not f.enum or f.name in cand.config or f.kind == "boolean":
                continue
            for option in sorted(f.enum, key=lambda o: len(str(o)), reverse=True):
                label = str(option)
                if len(label) < 2:
                    continue
                for pattern in _enum_patterns(label):
                    for match in text.find(pattern):
                        if label.isdigit() and not self._named_before(text, f, match.start()):
                            continue  # "16" is a version only after "postgres"/"version", not in "16 GB"
                        hits.setdefault(norm(label), []).append((f, option, match))
        taken: set[str] = set()
        for _label, found in hits.items():
            owners = {f.name for f, _, _ in found}
            if len(owners) != 1:
                continue  # the same word is an option of several fields: ask instead of guessing
            f, option, match = found[0]
            if f.name in taken:
                continue
            cand.config[f.name] = option
            taken.add(f.name)
            text.mask(match.start(), match.end())
        self._enum_by_part(text, fields, cand)
        self._enum_near_misses(text, fields, cand)

    def _enum_near_misses(self, text: _Text, fields: list[ConfigField], cand: Candidates) -> None:
        """ "db.t3.micro" where the options are db.t4g.*: a value shaped like the options but not
        one of them is never swapped for the nearest option; it is a problem that asks."""
        tokens = [(m.group(0).rstrip(".,;:!?"), m.start()) for m in _TOKEN.finditer(text.work)]
        for f in fields:
            if not f.enum or f.name in cand.config or f.name in cand.problems or f.kind == "boolean":
                continue
            labels = [str(o) for o in f.enum]
            dotted = [lb for lb in labels if "." in lb]
            if not dotted:
                continue
            prefixes = {lb.split(".", 1)[0].lower() + "." for lb in dotted}
            for token, start in tokens:
                low = token.lower()
                if "." not in low or low in {lb.lower() for lb in labels} or low.startswith(("subnet-", "sg-", "arn:")):
                    continue
                shaped = any(low.startswith(p) for p in prefixes) or (
                    low.count(".") == dotted[0].count(".") and re.fullmatch(r"[a-z][a-z0-9]*\.[a-z0-9]+", low)
                )
                if not shaped:
                    continue
                near = suggest_enum(f, token, cutoff=0.6)
                hint = f"; the nearest option is `{near}`" if near is not None else ""
                cand.problems[f.name] = f"`{token}` is not offered here{hint}"
                text.mask(start, start + len(token))
                break

    def _enum_by_part(self, text: _Text, fields: list[ConfigField], cand: Candidates) -> None:
        """ "kms encryption" -> sse-kms, "infrequent access table class" -> STANDARD_INFREQUENT_ACCESS:
        a word only one option has, next to the field's name."""
        for f in fields:
            if not f.enum or f.name in cand.config or f.kind == "boolean":
                continue
            parts = {option: set(words(str(option))) for option in f.enum}
            for start, end, penalty in self._mentions(text, f):
                if penalty:
                    continue
                near = set(words(text.work[max(0, start - 30) : start])[-3:] + words(text.work[end : end + 30])[:3])
                hits = [
                    option
                    for option, mine in parts.items()
                    if (mine - set().union(*(p for o, p in parts.items() if o != option))) & near
                ]
                if len(hits) == 1:
                    cand.config[f.name] = hits[0]
                    text.mask(start, end)
                    break

    def _patterned(self, text: _Text, fields: list[ConfigField], cand: Candidates) -> None:
        """Values whose shape names their field: ``subnet-0abc...``, ``sg-...``, ``ami-...``,
        ``arn:aws:kms:...``, ``lambda.amazonaws.com``."""
        tokens = [(m.group(0).rstrip(".,;:!?"), m.start()) for m in _TOKEN.finditer(text.work)]
        owners: dict[str, list[ConfigField]] = {}
        for f in fields:
            if f.name in cand.config:
                continue
            rx = _specific_pattern(f)
            if rx is None:
                continue
            for token, _start in tokens:
                if rx.fullmatch(token):
                    owners.setdefault(token, []).append(f)
        found: dict[str, list[str]] = {}
        for token, start in tokens:
            fs = owners.get(token) or []
            if not fs:
                continue
            # The same shape can fit several fields (read vs read-write ARNs): the one named
            # just before the value wins, else the first in schema order (the narrower one).
            named = [
                (start - end, f)
                for f in fs
                for _s, end, penalty in self._mentions(text, f)
                if penalty == 0 and 0 <= start - end <= 40
            ]
            owner = min(named, key=lambda item: item[0])[1] if named else fs[0]
            found.setdefault(owner.name, [])
            if token not in found[owner.name]:
                found[owner.name].append(token)
            text.mask(start, start + len(token))
        by_name = {f.name: f for f in fields}
        for name, values in found.items():
            cand.config[name] = values if by_name[name].kind == "list" else values[0]

    def _adjacent_text(
        self, text: _Text, fields: list[ConfigField], cand: Candidates, context: ExtractionContext
    ) -> None:
        """``partition key order_id``, ``sort key created_at``, ``db name orders``: a text field
        named, then its value."""
        stop = _STOP_VALUES | {p.lower() for p in context.projects} | set(env_aliases(context.environments))
        for f in fields:
            if f.kind != "text" or f.name in cand.config:
                continue
            rx = _compiled(f.schema.get("pattern"))
            for phrase in field_phrases(f):
                if phrase in _GENERIC or len(phrase) < 2:
                    continue
                pattern = re.compile(
                    _boundary(phrase).pattern
                    + r"\s+(?:(?:named|called|of|is|=|:)\s*)?"
                    + r"(?:\"([^\"]+)\"|'([^']+)'|[\"'`]?([A-Za-z0-9_./:-]+)[\"'`]?)",
                    re.IGNORECASE,
                )
                match = pattern.search(text.work)
                if not match:
                    continue
                group = next(i for i in (1, 2, 3) if match.group(i) is not None)
                value = match.group(group).rstrip(".,") if group == 3 else match.group(group)
                if value.lower() in stop or (rx is not None and not rx.fullmatch(value)):
                    continue
                cand.config[f.name] = value
                text.mask(match.start(group), match.end(group))
                break

    def _named_before(self, text: _Text, f: ConfigField, start: int) -> bool:
        return any(end <= start and start - end <= 3 for _s, end, _p in self._mentions(text, f))

    @staticmethod
    def _mentions(text: _Text, f: ConfigField) -> list[tuple[int, int, int]]:
        """(start, end, penalty) of each place the message names field ``f``."""
        out: list[tuple[int, int, int]] = []
        for phrase in field_phrases(f):
            if phrase in _GENERIC:
                continue
            for m in text.find(_stem_pattern(phrase)):
                out.append((m.start(), m.end(), 0))
        if not out:
            for word in words(f.name):
                if len(word) >= 4 and word not in _GENERIC:
                    for m in text.find(_stem_pattern(word)):
                        out.append((m.start(), m.end(), 15))
        return out

    def _booleans(self, text: _Text, fields: list[ConfigField], cand: Candidates) -> None:
        for f in fields:
            if f.kind != "boolean" or f.name in cand.config:
                continue
            mentions = self._mentions(text, f)
            mentions = [m for m in mentions if m[2] == 0]
            if not mentions:
                continue
            start, end, _ = mentions[0]
            before = words(text.work[max(0, start - 30) : start])[-3:]
            after = words(text.work[end : end + 12])[:1]
            said = (after and after[0] in _AFTER_FALSE | _AFTER_TRUE) or any(w in _NEGATIONS for w in before)
            if not said and any(w in ("change", "toggle", "update", "set", "modify", "adjust") for w in before):
                # "change multi az" says which field, not which way: asked, never guessed.
                cand.about.append(f.name)
                text.mask(start, end)
                continue
            value = True
            if any(w in _NEGATIONS for w in before):
                value = False
            if after and after[0] in _AFTER_FALSE:
                value = False
            elif after and after[0] in _AFTER_TRUE and not any(w in _NEGATIONS for w in before):
                value = True
            cand.config[f.name] = value
            text.mask(start, end)
            polarity = re.match(
                r"\s*(on|off|enabled|disabled|true|false|yes|no|none)\b", text.work[end:], re.IGNORECASE
            )
            if polarity:
                text.mask(end, end + polarity.end())

    def _numbers(self, text: _Text, fields: list[ConfigField], cand: Candidates, pending: str | None) -> None:
        numeric = [f for f in fields if f.kind in ("integer", "number") and f.name not in cand.config]
        if not numeric:
            return
        quantities: list[_Quantity] = []
        for m in text.find(NUMBER_WITH_UNIT):
            raw = m.group(1).replace(",", ".")
            unit_word = (m.group(2) or "").lower()
            unit = CANONICAL_UNIT.get(unit_word) if unit_word else None
            quantities.append(_Quantity(m.start(), m.end(), float(raw), unit))
        if not quantities:
            return
        used: set[int] = set()
        options: list[tuple[int, ConfigField, int, int, int]] = []
        for f in numeric:
            for start, end, penalty in self._mentions(text, f):
                for qi, q in enumerate(quantities):
                    if q.unit is not None and f.dimension is not None and dimension_of(q.unit) != f.dimension:
                        continue
                    if q.unit is not None and f.dimension is None and f.unit is None and dimension_of(q.unit) == "time":
                        continue
                    gap = q.start - end if q.start >= end else start - q.end
                    if gap < 0 or gap > 28:
                        continue
                    between = text.work[end : q.start] if q.start >= end else text.work[q.end : start]
                    if re.search(r"[,;]|\band\b", between):
                        continue
                    options.append((gap + penalty, f, qi, start, end))
        assigned: set[str] = set()
        for _score, f, qi, start, end in sorted(options, key=lambda o: o[0]):
            if f.name in assigned or qi in used:
                continue
            self._set_number(cand, f, quantities[qi])
            assigned.add(f.name)
            used.add(qi)
            # The words that named it are spent: "old versions" must not also switch on versioning.
            text.mask(start, end)
            text.mask(quantities[qi].start, quantities[qi].end)
        # A number with a unit and no field named: the one unset field of that dimension.
        for qi, q in enumerate(quantities):
            if qi in used or q.unit is None:
                continue
            dim = dimension_of(q.unit)
            same = [f for f in numeric if f.dimension == dim and f.name not in assigned]
            if len(same) > 1:
                # "50 GB" for a database is its storage, not the autoscaling ceiling.
                same = (
                    [f for f in same if f.required]
                    or [f for f in same if f.name == pending]
                    or [f for f in same if not f.name.startswith(("max_", "min_"))]
                )
            if len(same) == 1:
                self._set_number(cand, same[0], q)
                assigned.add(same[0].name)
                used.add(qi)

    @staticmethod
    def _set_number(cand: Candidates, f: ConfigField, q: _Quantity) -> None:
        try:
            value = convert(q.value, q.unit, f.unit)
        except UnitMismatch:
            return
        cand.config[f.name] = int(value) if float(value).is_integer() else value

    # --- the answer to the question just asked ------------------------------------------
    def _pending(
        self, message: str, context: ExtractionContext, by_name: dict[str, ConfigField], cand: Candidates, rest: str
    ) -> None:
        bare = _FILLER.sub("", message.strip()).strip().rstrip(".!")
        if not bare:
            return
        low = " ".join(bare.lower().split())
        step = context.step
        if step == "project" and cand.project is None:
            close = difflib.get_close_matches(low, [p.lower() for p in context.projects], n=1, cutoff=0.7)
            if close:
                cand.project = next(p for p in context.projects if p.lower() == close[0])
            return
        if step == "environment" and cand.environment is None:
            envs = env_aliases(context.environments)
            close = difflib.get_close_matches(low, list(envs), n=1, cutoff=0.7)
            if close:
                cand.environment = envs[close[0]]
            return
        if step == "module" and cand.module is None:
            found = self._match_module(norm(bare), context.modules)
            if found:
                cand.module = found
            return
        pending = context.pending_field
        if not pending or pending not in by_name or pending in cand.config or pending in cand.problems:
            return
        if _USE_DEFAULT.match(low):
            cand.use_default.append(pending)
            return
        info = by_name[pending]
        if cand.intent != "none" and info.kind != "boolean":
            return  # "submit" is a command, not a name
        if re.search(r"[=:]", bare) and info.kind not in ("map", "list"):
            return  # an explicit key=value was for another field
        extracted_other = bool(cand.config) or cand.project or cand.environment or cand.module or cand.preset
        if extracted_other and not re.search(r"\w", rest):
            return  # the whole message was another field's value ("t3.large" asked for a subnet)
        multiword = len(bare.split()) > 1
        if extracted_other and info.kind == "text" and multiword:
            # "orders with fifo", "orders in dev": what is left once the other values are read
            # may be one word, the answer.
            left = [w.strip(".,;!?\"'`") for w in _FILLER.sub("", rest.strip()).split()]
            left = [w for w in left if w and w.lower() not in _STOP_VALUES | _NOT_NAMES]
            if len(left) == 1 and "=" not in left[0]:
                bare, multiword = left[0], False
        if extracted_other and (info.kind != "text" or multiword):
            return
        if info.kind == "text" and multiword and info.schema.get("pattern"):
            return  # names have no spaces: this was a sentence, not the value
        if info.kind == "boolean" and parse_bool(bare) is None:
            return
        try:
            cand.config[pending] = coerce(info, bare)
        except CoercionError as exc:
            cand.problems[pending] = str(exc)


__all__ = ["ENV_GROUPS", "RuleExtractor", "detect_intent", "env_aliases", "name_field"]
