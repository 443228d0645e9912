"""What the request to a given OpenAI model must look like: does it reason, which reasoning
effort it accepts, and how many output tokens to allow.

A reasoning model spends part of ``max_output_tokens`` on hidden reasoning before it writes the
answer; with too small a budget it stops with ``status: incomplete`` (reason
``max_output_tokens``) and no answer at all, so every turn would fall back to the rules. The
budget is therefore the answer's own allowance plus headroom for reasoning, and the effort is
kept low where the model accepts a low setting (extraction needs little thought).

Efforts accepted, per OpenAI's model pages and reasoning guide: the gpt-5 family of August
2025 (``gpt-5``, ``-mini``, ``-nano`` and their snapshots) accepts ``minimal``; later families
(``gpt-5.1`` and newer, ``gpt-6*``) accept ``none``/``low``/... but not ``minimal``; the
o-series accepts ``low``/``medium``/``high`` (``o1-mini``/``o1-preview`` accept no effort at
all). GPT-4o, GPT-4.1, GPT-3.5 and the ``*-chat-latest`` aliases do not reason and reject the
``reasoning`` parameter. A model not recognised here is treated as reasoning at its own default
effort: the parameter is left out (never refused) and the headroom is the largest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Reasoning tokens on top of the answer's budget, by the effort requested (None: the model's
# default effort, "medium" for current models).
REASONING_HEADROOM: dict[str | None, int] = {"minimal": 1024, "low": 4096, None: 8192}

_NOT_REASONING = re.compile(r"^(?:gpt-4|gpt-3\.5|chatgpt-)|-chat-latest$")
_GPT5_MINIMAL = re.compile(r"^gpt-5(?:-mini|-nano)?(?:-\d{4}-\d{2}-\d{2})?$")
_LOW_EFFORT = re.compile(r"^(?:gpt-5\.\d+|gpt-6|o3|o4)")
_NO_EFFORT = re.compile(r"^o1-(?:mini|preview)")


@dataclass(frozen=True)
class ModelProfile:
    """How to call one model: whether it reasons and the effort to ask for (None: omit)."""

    model: str
    reasons: bool
    effort: str | None

    def max_output_tokens(self, answer_tokens: int) -> int:
        """The answer's own budget plus headroom for reasoning tokens."""
        if not self.reasons:
            return answer_tokens
        return answer_tokens + REASONING_HEADROOM.get(self.effort, REASONING_HEADROOM[None])

    def reasoning(self) -> dict[str, str] | None:
        """The ``reasoning`` request parameter, or None to leave it out."""
        return {"effort": self.effort} if self.reasons and self.effort else None


def profile_for(model: str) -> ModelProfile:
    """The profile of ``model`` (an id such as ``gpt-6-luna`` or a dated snapshot)."""
    name = model.strip().lower().removeprefix("openai/")
    if _NOT_REASONING.search(name):
        return ModelProfile(model, reasons=False, effort=None)
    if _GPT5_MINIMAL.match(name):
        return ModelProfile(model, reasons=True, effort="minimal")
    if _NO_EFFORT.match(name):
        return ModelProfile(model, reasons=True, effort=None)
    if _LOW_EFFORT.match(name) or name.startswith("o1"):
        return ModelProfile(model, reasons=True, effort="low")
    return ModelProfile(model, reasons=True, effort=None)


__all__ = ["REASONING_HEADROOM", "ModelProfile", "profile_for"]
