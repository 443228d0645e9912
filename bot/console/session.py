"""``ConsoleSession``: one person (or a script) talking to TfPilot in a terminal.

It is what the Slack listeners are for Slack, over the same ``Deps``: a typed line goes to the
assistant (``IntakeService.handle``) and its reply is printed as the thread message Slack would
show; typing a button's number or name "clicks" it: an intake choice is answered as if typed, a
card button calls the ``RequestService`` action for the acting user, re-checked by the core like
any click (a refusal is printed with its reason). ``/as <user>`` switches who is acting, so one
person can walk a request from requester to approver to admin. Used by ``tfpilot chat`` and
``tfpilot demo``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.console.edit import describe, parse_assignments
from bot.console.notifier import ConsoleNotifier
from bot.console.presenter import Choice, Presenter, Rendered
from bot.views.forms import schema_fields
from bot.views.ids import FORM_ACTION, action_of
from bot.views.intake import intake_message
from bot.views.refusals import console_refusal, reason_text
from core.domain.errors import PermissionDenied, RequestNotFound, TfPilotError
from core.domain.ids import is_request_id
from core.domain.index import ListFilter
from core.domain.lifecycle import derive_status
from core.domain.policy import Action, Actor, check
from core.domain.request import Request, Requester
from core.domain.status import meta, normalize_status
from core.ports.code_host import CodeHostError
from module_registry.errors import ConfigRejected

SOURCE = "console"
CONSOLE_TEAM = "TCONSOLE"
CONSOLE_CHANNEL = "CONSOLE"


@dataclass(frozen=True)
class ConsoleUser:
    id: str
    name: str
    email: str | None = None
    role_hint: str = ""  # shown in /users; the policy decides the real role

    def requester(self) -> Requester:
        return Requester(id=self.id, name=self.name, email=self.email, team_id=CONSOLE_TEAM)

    def actor(self) -> Actor:
        return Actor(id=self.id, email=self.email, name=self.name)


DEFAULT_USERS: tuple[ConsoleUser, ...] = (
    ConsoleUser("alice", "Alice", "alice@example.com", "developer"),
    ConsoleUser("bob", "Bob", "bob@example.com", "approver"),
    ConsoleUser("carol", "Carol", "carol@example.com", "admin"),
)


@dataclass
class Outcome:
    """What one input did: for scripts (the demo) and tests."""

    kind: str  # said | clicked | refused | error | unknown | info
    text: str = ""
    request: Request | None = None
    reply: Any = None
    choice: Choice | None = None


_SERVICE_CALLS: dict[Action, str] = {
    Action.APPROVE: "approve",
    Action.MERGE: "merge",
    Action.APPLY: "apply",
    Action.DESTROY: "destroy",
    Action.REPLAN: "replan",
    Action.PREPARE_DESTROY: "prepare_destroy",
}


@dataclass
class ConsoleSession:
    deps: Any  # bot.deps.Deps (duck-typed: intake, requests, store, code_host)
    out: TextIO
    notifier: ConsoleNotifier
    presenter: Presenter
    users: Sequence[ConsoleUser] = DEFAULT_USERS
    thread: str = "1"
    settle: Callable[[], None] = lambda: None  # wait for (or run) pending local runs
    confirm: Callable[[str], bool] = lambda _prompt: True
    ask: Callable[[str], str] = lambda _prompt: ""  # one typed line (Edit's new values)
    echo_input: bool = True  # print what the user said (off at a terminal, which already shows it)
    acting: ConsoleUser = field(init=False)
    # Refresh a request from the code host before showing it (``/status``): without the local
    # forge nothing reports runs to a terminal (GitHub's webhooks go to the service).
    refresh: bool = False
    request_id: str | None = None
    _menu: Rendered | None = None

    def __post_init__(self) -> None:
        self.acting = self.users[0]

    # --- output ------------------------------------------------------------------------

    def write(self, text: str) -> None:
        with self.notifier.lock:
            self.out.write(text + ("\n" if not text.endswith("\n") else ""))
            self.out.flush()

    def _who(self, user: ConsoleUser) -> str:
        return self.presenter.bold(f"{user.name} ({user.id})")

    def conversation_key(self) -> Any:
        from assistant.domain.session import ConversationKey

        return ConversationKey(team_id=CONSOLE_TEAM, channel=CONSOLE_CHANNEL, thread_ts=self.thread)

    # --- acting users --------------------------------------------------------------------

    def role(self, user: ConsoleUser) -> str:
        """The user's role as the policy sees it (what the core will check)."""
        try:
            return str(self.deps.policy.role_of(user.actor()).label)
        except Exception:
            return user.role_hint or "unknown"

    def user(self, name: str) -> ConsoleUser | None:
        wanted = name.strip().lstrip("@").lower()
        for u in self.users:
            if wanted in (u.id.lower(), u.name.lower(), (u.email or "").lower()):
                return u
        return None

    def switch(self, name: str) -> Outcome:
        found = self.user(name)
        if found is None:
            wanted = name.strip().lstrip("@")
            if not _USER_RE.match(wanted):
                self.write(f"{name!r} is not a user name: use letters, digits, '.', '_', '-' or an email")
                return Outcome("unknown", f"bad user {name}")
            # Anyone may be impersonated at the console: the policy lists decide what they may do.
            email = wanted if "@" in wanted else None
            found = ConsoleUser(wanted, wanted.split("@")[0], email, "")
            self.users = [*self.users, found]
        self.acting = found
        self.write(self.presenter.dim(f"(now acting as {found.name}: {self.role(found)})"))
        return Outcome("info", found.id)

    # --- the assistant -------------------------------------------------------------------

    def say(self, text: str) -> Outcome:
        """Send ``text`` to the assistant as the acting user and print its reply."""
        if self.echo_input:
            self.write(f"{self._who(self.acting)} > {text}")
        reply = self.deps.intake.handle(self.conversation_key(), self.acting.requester(), text)
        payload = _without_form_button(intake_message(reply, thread_ts=self.thread))
        with self.notifier.lock:
            rendered = self.presenter.render(payload)
            lines = rendered.text.splitlines() or [""]
            self.write("\n".join([f"{self.presenter.bold('TfPilot')} > {lines[0]}", *("  " + ln for ln in lines[1:])]))
        # The assistant's latest buttons, or none: an earlier question's buttons are stale
        # (after submit, "1" means the card's first button, not the old Submit).
        self._menu = rendered if rendered.choices else None
        request_id = getattr(reply, "request_id", None)
        if request_id and (getattr(reply, "submitted", False) or getattr(reply, "done", False)):
            self.request_id = request_id
            self.settle()
        return Outcome("said", text, reply=reply)

    # --- clicking ------------------------------------------------------------------------

    def _candidates(self) -> list[Rendered]:
        found: list[Rendered] = []
        card = self.notifier.latest_card(self.request_id) if self.request_id else None
        if self._menu is not None:
            found.append(self._menu)
        if card is not None and card is not self._menu:
            found.append(card)
        return found

    def find_choice(self, typed: str) -> Choice | None:
        for rendered in self._candidates():
            choice = rendered.pick(typed)
            if choice is not None:
                return choice
        return None

    def card_buttons(self) -> list[str]:
        card = self.notifier.latest_card(self.request_id) if self.request_id else None
        return [c.label for c in card.choices] if card else []

    def click(self, typed: str) -> Outcome | None:
        """Click what ``typed`` names (a number or a label); None when nothing matches."""
        choice = self.find_choice(typed)
        if choice is None:
            action = _CARD_WORDS.get(_word(typed))
            if action is not None and self.request_id is not None:
                # The card has no such button now: ask the core anyway, as a stale Slack
                # button would, so the person hears why not (and the refusal is logged).
                self.write(self.presenter.dim(f"{self.acting.name} asks to {action.value} (not on the card now)"))
                return self.act(action)
            return None
        action = action_of(choice.action_id or "")
        if action is not None or typed.strip().isdigit():
            self.write(self.presenter.dim(f"{self.acting.name} clicks [{choice.number}] {choice.label}"))
        if action is not None:
            return self.act(action, choice)
        if choice.action_id == FORM_ACTION:
            self.write("The form is a Slack modal; in the console, answer in text (for example `name=my-logs`).")
            return Outcome("info", "form", choice=choice)
        if choice.url:
            self.write(f"Open {choice.url}")
            return Outcome("info", choice.url, choice=choice)
        outcome = self.say(choice.value or choice.label)
        outcome.choice = choice
        return outcome

    def act(self, action: Action, choice: Choice | None = None) -> Outcome:
        """Do a card action as the acting user (what a button click does in Slack)."""
        if self.request_id is None:
            self.write("There is no request in this conversation yet.")
            return Outcome("error", "no request")
        if action is Action.UPDATE:
            return self.edit(choice)
        if not self._confirmed(action, choice):
            self.write(f"{action.value.capitalize()} cancelled.")
            return Outcome("info", "cancelled", choice=choice)
        method = getattr(self.deps.requests, _SERVICE_CALLS[action])
        printed = len(self.notifier.history)
        try:
            request = method(self.request_id, self.acting.actor(), source=SOURCE)
        except PermissionDenied as exc:
            said = reason_text(exc.reason)
            self.write(console_refusal(self.acting.name, action.value, exc.reason))
            return Outcome("refused", said, choice=choice)
        except (TfPilotError, CodeHostError) as exc:
            self.write(f"✖ {action.value} failed: {exc}")
            return Outcome("error", str(exc), choice=choice)
        if len(self.notifier.history) == printed:
            # An idempotent repeat (a second click) changes nothing: say so rather than stay silent.
            label = meta(derive_status(request)).label
            self.write(
                self.presenter.dim(
                    f"Nothing new: {action.value} was already done or is under way ({request.id} is {label})."
                )
            )
        self.settle()
        return Outcome("clicked", action.value, request=request, choice=choice)

    def edit(self, choice: Choice | None = None) -> Outcome:
        """Slack's Edit modal as one typed line: the settings are shown, ``field=value`` pairs
        are read, and ``update_config`` commits them and plans again (the core re-checks)."""
        assert self.request_id is not None
        request = self.deps.store.get(self.request_id)
        if not self._may(Action.UPDATE):
            return self._update(request, dict(request.config), choice)  # refused, with the reason
        fields = schema_fields(self.deps.registry.get(request.module).schema)
        self.write(f"Edit {request.id} ({request.module} in {request.project}/{request.environment}). Settings now:")
        self.write("\n".join("  " + line for line in describe(fields, request.config)))
        typed = self.ask("New values as field=value (several separated by spaces), or nothing to cancel: ")
        if not typed.strip():
            self.write("Edit cancelled.")
            return Outcome("info", "cancelled", choice=choice)
        values, problems = parse_assignments(fields, typed)
        if problems:
            self.write("Nothing was changed:\n" + "\n".join(f"  • {p}" for p in problems))
            return Outcome("error", "; ".join(problems), choice=choice)
        return self._update(request, {**request.config, **values}, choice)

    def _update(self, request: Request, config: dict[str, Any], choice: Choice | None) -> Outcome:
        printed = len(self.notifier.history)
        try:
            updated = self.deps.requests.update_config(request.id, config, self.acting.actor(), source=SOURCE)
        except PermissionDenied as exc:
            self.write(console_refusal(self.acting.name, "update", exc.reason))
            return Outcome("refused", reason_text(exc.reason), choice=choice)
        except ConfigRejected as exc:
            lines = [f"  • {e.describe()}" for e in exc.errors]
            self.write("The new settings were rejected:\n" + "\n".join(lines))
            return Outcome("error", "rejected", choice=choice)
        except (TfPilotError, CodeHostError) as exc:
            self.write(f"✖ update failed: {exc}")
            return Outcome("error", str(exc), choice=choice)
        if len(self.notifier.history) == printed:
            self.write(self.presenter.dim("Nothing to do: the settings are already these."))
        self.settle()
        return Outcome("clicked", Action.UPDATE.value, request=updated, choice=choice)

    def _confirmed(self, action: Action, choice: Choice | None) -> bool:
        """Ask what Slack asks before the click: the button's confirmation dialog (Merge, Apply,
        Destroy), and in prod a destroy needs the request id typed. Nobody is asked for a
        click the core would refuse: the refusal comes at once instead."""
        assert self.request_id is not None
        try:
            prod = bool(self.deps.store.get(self.request_id).is_prod)
        except TfPilotError:
            prod = False
        if action is Action.DESTROY and prod:
            if not self._may(action):
                return True
            typed = self.ask(f"Destroy {self.request_id} in production? Type the request id to confirm: ")
            return typed.strip() == self.request_id
        text = choice.confirm if choice is not None else None
        if text is None and action is Action.DESTROY:
            text = f"Destroy this infrastructure? Every resource {self.request_id} created will be destroyed."
        if text is None or not self._may(action):
            return True
        return self.confirm(f"{text} Type 'yes' or the request id to confirm: ")

    def _may(self, action: Action) -> bool:
        """Would the core allow ``action`` now? (Slack asks for a confirmation only then; a
        refused click still goes to the core, which records and explains the refusal.)"""
        try:
            request = self.deps.store.get(self.request_id)
            return bool(check(action, request, self.acting.actor(), self.deps.policy).allowed)
        except Exception:
            return True

    # --- requests ------------------------------------------------------------------------

    def open(self, request_id: str) -> Outcome:
        """Make ``request_id`` the conversation's request and print its card (its buttons work)."""
        wanted = request_id.strip()
        if not is_request_id(wanted):
            self.write(f"{wanted[:40]!r} is not a request id (they look like req_0123456789ab); try /list")
            return Outcome("unknown", wanted)
        try:
            request = self.deps.store.get(wanted)
        except RequestNotFound:
            self.write(f"No request {wanted}; /list shows the requests there are.")
            return Outcome("unknown", wanted)
        if self.refresh and request.archived_at is None:
            try:
                request = self.deps.sync.sync(wanted)
            except (TfPilotError, CodeHostError) as exc:
                self.write(self.presenter.dim(f"(could not refresh from the code host: {exc}; showing what is stored)"))
        self.request_id = request.id
        self.notifier.show(request)
        return Outcome("info", str(derive_status(request).value), request=request)

    def list_requests(self, limit: int = 20) -> Outcome:
        """The newest requests (active and archived), one line each, from the index."""
        page = self.deps.store.list(ListFilter(include_archived=True), limit=limit)
        rows = list(page.rows)
        if not rows:
            self.write('No requests yet. Ask for something, e.g. "I need an S3 bucket in dev for core".')
            return Outcome("info", "0")
        for row in rows:
            marker = "*" if row.id == self.request_id else " "
            label = meta(normalize_status(row.status)).label
            where = f"{row.project}/{row.environment}"
            self.write(f" {marker} {row.id}  {label:<12} {row.module:<16} {where:<16} {row.requester or '-'}")
        self.write(self.presenter.dim("/status <id> shows a request's card and lets you click its buttons."))
        return Outcome("info", str(len(rows)))

    # --- one line of input ---------------------------------------------------------------

    def handle_line(self, line: str) -> Outcome:
        """A line typed at the prompt: a command, a click, or a message to the assistant."""
        text = line.strip()
        if not text:
            return Outcome("info", "")
        if text.startswith("/as "):
            return self.switch(text[4:])
        if text in ("/users", "users"):
            for u in self.users:
                marker = "*" if u is self.acting else " "
                self.write(f" {marker} {u.id:<8} {u.name:<8} {u.email or '':<22} {self.role(u)}")
            return Outcome("info", "users")
        if text in ("/list", "/requests"):
            return self.list_requests()
        if text.startswith("/status ") or text.startswith("/open "):
            return self.open(text.split(None, 1)[1])
        if text in ("/status", "status"):
            if self.request_id is None:
                self.write("No request in this conversation yet: /list shows them, /status <id> opens one.")
                return Outcome("info", "none")
            return self.open(self.request_id)
        if text.startswith("/new"):
            self.thread = str(int(self.thread) + 1) if self.thread.isdigit() else self.thread + "-1"
            self.request_id, self._menu = None, None
            self.write(self.presenter.dim("(new conversation)"))
            rest = text[4:].strip()
            return self.say(rest) if rest else Outcome("info", "new")
        if text.startswith("/") and not text.startswith("/new"):
            self.write(f"Unknown command {text.split()[0][:30]!r}; type help for the commands.")
            return Outcome("unknown", text)
        clicked = self.click(text) if _looks_like_click(text) else None
        if clicked is not None:
            return clicked
        return self.say(text)


def _without_form_button(payload: dict[str, Any]) -> dict[str, Any]:
    """The intake message minus "Open form": a Slack modal the console cannot open (the values
    are typed instead, e.g. ``name=my-logs``)."""
    blocks: list[Any] = []
    for block in payload.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions":
            elements = [e for e in block.get("elements") or [] if e.get("action_id") != FORM_ACTION]
            if elements:
                blocks.append({**block, "elements": elements})
            continue
        blocks.append(block)
    return {**payload, "blocks": blocks}


_CARD_WORDS: dict[str, Action] = {
    **{a.value: a for a in Action},
    "re plan": Action.REPLAN,
    "prepare destroy": Action.PREPARE_DESTROY,
    "edit": Action.UPDATE,
}


def _word(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_CLICK_RE = re.compile(r"^(\d{1,2}|[A-Za-z][A-Za-z -]{0,30})$")


def _looks_like_click(text: str) -> bool:
    # Short words or numbers may name a button; longer sentences always go to the assistant.
    return bool(_CLICK_RE.match(text)) and len(text.split()) <= 3
