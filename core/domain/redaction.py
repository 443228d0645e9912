"""Credential redaction for anything stored for audit (chat turns, lifecycle event data).

``redact(text)`` replaces credentials found in free text with ``[REDACTED:<kind>]``;
``redact_value(obj)`` does the same through nested dicts and lists, and also blanks string
values whose key names a secret (``{"password": "..."}``). Patterns are specific (known token
prefixes and shapes, ``name=value`` pairs with a separator) so ordinary prose, ids and hashes
are left alone. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

MARK = "[REDACTED:{kind}]"


def _mark(kind: str) -> str:
    return MARK.format(kind=kind)


# Secret-looking key names for name=value pairs and for dict keys.
# A name may run "password" into a prefix (PGPASSWORD, dbpassword); "pwd" and a bare "pass"
# (MYSQL_PWD, db_pass) count only as a whole segment.
_CREDENTIAL_NAMES = (
    r"[a-z0-9]*(?:password|passwd)|passphrase|pass_?word|pwd|pass"
    r"|client[_-]?secret|secret(?:[_-]?(?:access[_-]?)?key)?"
    r"|(?:access|refresh|auth|api|bot|app|session|id)?[_-]?token"
    r"|api[_-]?key|apikey|private[_-]?key|signing[_-]?secret"
)
_SECRET_KEY = re.compile(rf"(?i)^[A-Za-z0-9_-]*?(?:^|[_-])(?:{_CREDENTIAL_NAMES})$")


def _kind_of_name(name: str) -> str:
    lowered = name.lower()
    if "pass" in lowered or "pwd" in lowered:
        return "password"
    if "token" in lowered:
        return "token"
    if "key" in lowered:
        return "api-key" if "api" in lowered else "secret"
    return "secret"


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _fixed(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: _mark(kind)


def _keep_prefix(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group("keep") + _mark(kind)


def _pair(m: re.Match[str]) -> str:
    value = m.group("qval") if m.group("q") else m.group("val")
    if value is None or value.startswith("[REDACTED:") or not value.strip():
        return m.group(0)
    quote = m.group("q") or ""
    return f"{m.group('name')}{m.group('sep')}{quote}{_mark(_kind_of_name(m.group('name')))}{quote}"


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _random_looking(value: str, *, min_entropy: float) -> bool:
    # Upper and lower case letters and digits, and spread like random output: hex digests
    # (one case), words and ids run together stay below the bar.
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() or c in "/+" for c in value)
        and _entropy(value) >= min_entropy
    )


def _if_random(kind: str, min_entropy: float) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        token = m.group("tok")
        if not _random_looking(token, min_entropy=min_entropy):
            return m.group(0)
        return m.group(0)[: m.start("tok") - m.start()] + _mark(kind)

    return replace


# Order matters: whole blocks and prefixed tokens first, generic name=value pairs last (they
# leave values that were already redacted alone).
_RULES: list[_Rule] = [
    (
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
            re.DOTALL,
        ),
        _fixed("private-key"),
    ),
    (
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        _fixed("aws-access-key-id"),
    ),
    (
        re.compile(
            r"(?i)(?P<keep>(?<![A-Za-z0-9])(?:aws_?)?(?:secret_?access_?key|session_?token)[\"']?\s*[:=]\s*[\"']?)"
            r"[A-Za-z0-9/+=]{16,}"
        ),
        _keep_prefix("aws-secret-key"),
    ),
    (
        # An AWS secret access key pasted in prose: 40 base64 characters after "secret", "key"...
        re.compile(
            r"(?i)(?P<keep>\b(?:secret|key|aws)\b[^\n]{0,24}?[\s:=\"'`])"
            r"(?P<tok>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        _if_random("aws-secret-key", 3.5),
    ),
    (
        # ... or alone, when it looks random.
        re.compile(r"(?<![A-Za-z0-9/+=_-])(?P<tok>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=_-])"),
        _if_random("aws-secret-key", 4.2),
    ),
    (
        re.compile(
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])"
        ),
        _fixed("github-token"),
    ),
    (
        re.compile(
            r"(?<![A-Za-z0-9])(?:xox[abposre](?:\.xox[bp])?-[A-Za-z0-9-]{8,}|xapp-\d-[A-Za-z0-9-]{8,})(?![A-Za-z0-9])"
        ),
        _fixed("slack-token"),
    ),
    (
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
        _fixed("slack-webhook"),
    ),
    (
        re.compile(r"(?<![A-Za-z0-9_-])sk-(?:[a-z]+-)?[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])"),
        _fixed("openai-key"),
    ),
    (
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
        _fixed("jwt"),
    ),
    (
        # Any other long random-looking token (API keys of services without a known prefix).
        re.compile(r"(?<![A-Za-z0-9/+=_-])(?P<tok>[A-Za-z0-9_-]{32,})(?![A-Za-z0-9/+=_-])"),
        _if_random("token", 4.5),
    ),
    (
        re.compile(r"(?i)(?P<keep>\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|bot)\s+)[^\s\"',;]+"),
        _keep_prefix("auth-header"),
    ),
    (
        re.compile(r"(?i)(?P<keep>\bbearer\s+)(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*"),
        _keep_prefix("bearer-token"),
    ),
    (
        re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?=@)"),
        _keep_prefix("password"),
    ),
    (
        re.compile(
            rf"(?i)(?<![A-Za-z0-9])(?P<name>(?:[A-Za-z0-9]+[_-])*(?:{_CREDENTIAL_NAMES}))(?![A-Za-z0-9])"
            r"(?P<sep>[\"']?\s*[:=]\s*)"
            r"(?:(?P<q>[\"'])(?P<qval>[^\"'\n]*)(?P=q)|(?P<val>[^\s\"',;&<>)}\]]+))"
        ),
        _pair,
    ),
]


def redact(text: str) -> str:
    """``text`` with every credential found replaced by ``[REDACTED:<kind>]``."""
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text


_FOUND = re.compile(r"\[REDACTED:([a-z-]+)\]")


def secrets_found(text: str) -> list[str]:
    """The kinds of credential ``text`` holds (sorted, each once): what ``redact`` would hide."""
    before = Counter(_FOUND.findall(text))
    after = Counter(_FOUND.findall(redact(text)))
    return sorted((after - before).keys())


def is_secret_key(name: str) -> bool:
    """True when a mapping key names a secret (``password``, ``api_key``, ``SLACK_BOT_TOKEN``...)."""
    return bool(_SECRET_KEY.match(name))


def redact_value(value: Any) -> Any:
    """A copy of ``value`` with strings redacted at any depth; strings under secret-named keys
    are replaced whole."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and isinstance(item, str) and item and is_secret_key(key):
                out[key] = item if item.startswith("[REDACTED:") else _mark(_kind_of_name(key))
            else:
                out[key] = redact_value(item)
        return out
    if isinstance(value, list | tuple):
        items = [redact_value(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value
