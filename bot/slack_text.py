"""Slack's message markup, read back as the person typed it.

Slack rewrites what people type before a bot sees it: a typed domain arrives as a link
(``lambda.amazonaws.com`` becomes ``<http://lambda.amazonaws.com|lambda.amazonaws.com>``),
mentions and channels as ``<@U123>`` / ``<#C123|ops>``, special mentions as ``<!here>``, and
``&``, ``<``, ``>`` escaped. The Slack listeners apply ``plain_text`` to a message before it
reaches the assistant, which therefore only ever reads plain text (the console's included).
"""

from __future__ import annotations

import re

__all__ = ["plain_text"]

_SLACK_MARKUP = re.compile(r"<((?:https?://|mailto:|tel:)[^<>|\s]*|[#@!][^<>|\s]*)(?:\|([^<>]*))?>")
_SCHEME = re.compile(r"^(?:mailto|tel):")


def _plain(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target[:1] in "@!":
        # <@U123|name>, <!here>, <!subteam^S123|@team>: the label, else the id without options.
        return "@" + (label or target[1:].split("^", 1)[0])
    if target[:1] == "#":
        return "#" + (label or target[1:])
    return label or _SCHEME.sub("", target)


def plain_text(text: str) -> str:
    """``text`` with Slack's links, mentions and escapes replaced by what was typed; anything
    else (including ``<`` that is not markup) is left as it is."""
    text = _SLACK_MARKUP.sub(_plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
