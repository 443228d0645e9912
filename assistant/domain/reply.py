"""What the assistant says back: ``Reply`` (text, clickable choices, an optional form for a
modal, the Terraform preview, the created request, per-field errors). Channel-neutral: the
Slack views, the console and tests render the same reply."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

FieldKind = Literal["text", "integer", "number", "boolean", "select", "list", "map", "json"]


class Choice(BaseModel):
    """A button or menu option: ``value`` is what the user would have typed to pick it."""

    label: str
    value: str


class FormField(BaseModel):
    name: str
    title: str
    kind: FieldKind
    required: bool = False
    description: str | None = None
    default: Any = None
    value: Any = None  # the value collected so far, if any
    choices: list[Choice] = Field(default_factory=list)
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    placeholder: str | None = None


class FormSpec(BaseModel):
    """The selected module's fields, for a modal (``IntakeService.submit_form`` takes it back)."""

    module: str
    title: str
    fields: list[FormField] = Field(default_factory=list)


class Reply(BaseModel):
    text: str
    choices: list[Choice] = Field(default_factory=list)
    form: FormSpec | None = None
    terraform: str | None = None  # the exact files that will be committed, at confirm
    request_id: str | None = None  # reserved at confirm, created at submit
    field_errors: dict[str, str] = Field(default_factory=dict)
    done: bool = False  # submitted or cancelled: the conversation is over
    # Additions beyond the contract (optional for renderers):
    link: str | None = None  # the pull request (or request) URL after submit
    step: str | None = None  # the session step after this turn
    question: str | None = None  # the field being asked for, if any
    extractor: str | None = None  # which extractor read the user's message (openai | rules)
    submitted: bool = False  # this turn created (or re-found) the request
