"""What the assistant says back: ``Reply`` (text, clickable choices, an optional form for a
modal, the Terraform preview, the created request, per-field errors). Channel-neutral: the
Slack views, the console and tests render the same reply."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assistant.domain.fields import describe_value
from module_registry.fields import ConfigField, FieldKind


class Choice(BaseModel):
    """A button or menu option: ``value`` is what the user would have typed to pick it."""

    label: str
    value: str


class FormField(BaseModel):
    """A form input as a renderer needs it: a view of the registry's ``ConfigField`` (see
    ``FormField.of``) and the value collected so far."""

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

    @classmethod
    def of(cls, field: ConfigField, value: Any = None) -> FormField:
        choices: list[Choice] = []
        if field.enum:
            choices = [Choice(label=str(v), value=str(v)) for v in field.enum[:100]]
        elif field.kind == "boolean":
            choices = [Choice(label="Yes", value="true"), Choice(label="No", value="false")]
        return cls(
            name=field.name,
            title=field.heading,
            kind=field.kind,
            required=field.required,
            description=field.description or None,
            default=field.default if field.has_default else None,
            value=value,
            choices=choices,
            unit=field.unit,
            minimum=field.minimum,
            maximum=field.maximum,
            placeholder=describe_value(field.examples[0]) if field.examples else None,
        )


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
    # At an edit of the confirm step: what changed in those files since they were last shown
    # (a unified diff without context lines), instead of the whole files again.
    terraform_changes: str | None = None
    request_id: str | None = None  # reserved at confirm, created at submit
    field_errors: dict[str, str] = Field(default_factory=dict)
    done: bool = False  # submitted or cancelled: the conversation is over
    # Additions beyond the contract (optional for renderers):
    link: str | None = None  # the pull request (or request) URL after submit
    step: str | None = None  # the session step after this turn
    question: str | None = None  # the field being asked for, if any
    extractor: str | None = None  # which extractor read the user's message (openai | rules)
    submitted: bool = False  # this turn created (or re-found) the request
