"""A local fake of the Slack Web API: a real HTTP server on 127.0.0.1 (port 0) in a thread.

It records every call (method, parameters with JSON-string fields decoded, token) and answers
like Slack: ``chat.postMessage`` returns a fresh ``ts`` and remembers the message,
``chat.update`` edits it, ``views.open/publish/update`` return a view id, ``users.info`` answers
from ``users``, ``files.getUploadURLExternal`` hands out an upload URL on this same server (see
"Uploads" below),
``assistant.threads.setStatus/setTitle/setSuggestedPrompts`` check their arguments as Slack
does, ``response_url`` posts (``/response/...``) are recorded as method ``response_url``. Failures
(e.g. a 429 with ``Retry-After``) can be queued per method (``upload`` for the upload URL).

Channel membership: a channel declared with ``add_channel`` answers like Slack when the bot is
not in it: ``chat.postMessage``/``chat.update`` get ``not_in_channel`` (public) or
``channel_not_found`` (private: the bot cannot even see it); ``conversations.join`` adds the bot
to a public channel and answers ``method_not_supported_for_channel_type`` for a private one (a
private channel needs an invitation). Undeclared channels and DMs behave as ones the bot is in.
``users.lookupByEmail`` answers from ``users`` (``users_not_found`` otherwise). ``wait_for`` polls with a bound, for
calls made by lazy listeners on other threads.

Uploads, in Slack's three steps: ``files.getUploadURLExternal`` needs ``filename`` and a positive
``length`` (``invalid_arguments`` otherwise) and returns a file id and an upload URL; the bytes are
POSTed there (an unknown URL answers 404); ``files.completeUploadExternal`` needs ``files`` (a JSON
list of ``{"id", "title"}``), may be called once per file, only for a file whose bytes arrived
(``file_not_found`` otherwise: our reading, Slack documents no finer code), and shares it into
``channel_id`` (and ``thread_ts``) with the same membership rules as ``chat.postMessage``. It
answers ``{"ok": true, "files": [{"id", "title"}]}`` as Slack documents; the shared file is kept
in ``files`` (name, title, channel, thread, content).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

_JSON_FIELDS = ("blocks", "view", "attachments", "files", "metadata", "prompts")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    path: str

    def blocks(self) -> list[dict[str, Any]]:
        value = self.params.get("blocks") or (self.params.get("view") or {}).get("blocks") or []
        return list(value)

    def text(self) -> str:
        """All the human text of the call (message text, block texts), for assertions."""
        parts = [str(self.params.get("text") or "")]
        parts += [json.dumps(self.params.get("blocks") or []), json.dumps(self.params.get("view") or {})]
        return "\n".join(parts)


@dataclass
class Channel:
    private: bool = False
    bot_member: bool = False


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for name in _JSON_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[name] = json.loads(value)
    return out


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.uploads: dict[str, bytes] = {}
        self.pending_uploads: dict[str, dict[str, Any]] = {}  # file id -> what getUploadURLExternal was told
        self.files: dict[str, dict[str, Any]] = {}  # completed uploads, by file id
        self._failures: dict[str, list[Failure]] = {}
        self._delays: dict[str, float] = {}
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.bot_user_id = "UTFPILOT"
        self.bot_id = "BTFPILOT"

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, headers, payload = fake._handle(self.path, dict(self.headers.items()), raw)
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PUT = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def root(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL / WebClient(base_url=...) should be."""
        return self.root + "api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.root}response/{name}"

    # --- control ---------------------------------------------------------------------------
    def add_user(self, user_id: str, *, email: str | None = None, name: str | None = None) -> None:
        self.users[user_id] = {"email": email, "name": name or user_id.lower()}

    def add_channel(self, channel_id: str, *, private: bool = False, bot_member: bool = False) -> None:
        """Declare a channel whose membership is enforced (see the module docstring)."""
        self.channels[channel_id] = Channel(private=private, bot_member=bot_member)

    def invite_bot(self, channel_id: str) -> None:
        """Someone ran ``/invite @TfPilot`` in the channel."""
        self.channels[channel_id].bot_member = True

    def fail_next(self, method: str, status: int = 429, *, headers: dict[str, str] | None = None, **body: Any) -> None:
        failure = Failure(status, {"ok": False, **(body or {"error": "ratelimited"})}, dict(headers or {}))
        with self._cond:
            self._failures.setdefault(method, []).append(failure)

    def slow(self, method: str, seconds: float) -> None:
        """Answer ``method`` only after ``seconds`` (a slow Slack: races get a wide window)."""
        with self._cond:
            self._delays[method] = seconds

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        where: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[Call]:
        """The matching calls once at least ``count`` arrived; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method and (where is None or where(c))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"expected {count} {method} call(s), got {len(found)}; calls: {seen}")
                self._cond.wait(left)

    def settle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until no call arrived for ``quiet`` seconds (lazy work has finished)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = len(self.calls)
            while time.monotonic() < deadline:
                self._cond.wait(quiet)
                if len(self.calls) == seen:
                    return
                seen = len(self.calls)

    # --- answering ---------------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"1800000000.{next(self._ts):06d}"

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], Any]:
        route = path.split("?", 1)[0]
        if route.startswith("/upload/"):
            file_id = route.rsplit("/", 1)[-1]
            with self._cond:
                queued = self._failures.get("upload")
                failure = queued.pop(0) if queued else None
            if failure is not None:
                self._record(Call("upload", {"file_id": file_id, "_failed": failure.status}, None, route))
                return failure.status, failure.headers, b"upload failed"
            if file_id not in self.pending_uploads:
                return 404, {}, b"Not Found"
            self.uploads[file_id] = raw
            self._record(Call("upload", {"file_id": file_id, "size": len(raw)}, None, route))
            return 200, {}, f"OK - {len(raw)}".encode()
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "json" in content_type:
            params = json.loads(raw or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        params = _decode(params if isinstance(params, dict) else {})
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = auth.split(" ", 1)[1] if auth.startswith("Bearer ") else params.get("token")
        if route.startswith("/response/"):
            self._record(Call("response_url", params, token, route))
            return 200, {}, {"ok": True}
        method = route.removeprefix("/api/")
        with self._cond:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
            delay = self._delays.get(method, 0.0)
        if delay:
            time.sleep(delay)
        if failure is not None:
            self._record(Call(method, {**params, "_failed": failure.status}, token, route))
            return failure.status, failure.headers, failure.body
        answer = self._answer(method, params)
        self._record(Call(method, params, token, route))
        return 200, {}, answer

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _membership_error(self, method: str, params: dict[str, Any]) -> str | None:
        if method not in ("chat.postMessage", "chat.update", "files.completeUploadExternal"):
            return None
        if method == "files.completeUploadExternal" and not params.get("channel_id"):
            return None  # not shared: the file stays private to the app
        channel = self.channels.get(str(params.get("channel") or params.get("channel_id")))
        if channel is None or channel.bot_member:
            return None
        return "channel_not_found" if channel.private else "not_in_channel"

    def _join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(params.get("channel"))
        channel = self.channels.get(channel_id)
        if channel is not None and channel.private:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        answer: dict[str, Any] = {"ok": True, "channel": {"id": channel_id, "is_channel": True, "is_member": True}}
        if channel is None or channel.bot_member:
            answer["warning"] = "already_in_channel"
        else:
            channel.bot_member = True
        return answer

    def _lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email") or "").lower()
        for user_id, user in self.users.items():
            if (user.get("email") or "").lower() == email and email:
                return {"ok": True, "user": {"id": user_id, "name": user["name"], "profile": {"email": user["email"]}}}
        return {"ok": False, "error": "users_not_found"}

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        refused = self._membership_error(method, params)
        if refused is not None:
            return {"ok": False, "error": refused}
        if method == "conversations.join":
            return self._join(params)
        if method == "users.lookupByEmail":
            return self._lookup_by_email(params)
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": "Fake",
                "user": "tfpilot",
                "team_id": "T111",
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            channel = str(params.get("channel"))
            message = {"ts": ts, "text": params.get("text"), "blocks": params.get("blocks")}
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.messages[(channel, ts)] = message
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            key = (str(params.get("channel")), str(params.get("ts")))
            self.messages.setdefault(key, {}).update({"text": params.get("text"), "blocks": params.get("blocks")})
            return {"ok": True, "channel": key[0], "ts": key[1], "text": params.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            view = dict(params.get("view") or {})
            return {"ok": True, "view": {**view, "id": f"V{next(self._ids):06d}"}}
        if method == "users.info":
            user_id = str(params.get("user"))
            user = self.users.get(user_id)
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            profile = {"email": user["email"], "display_name": user["name"], "real_name": user["name"]}
            return {"ok": True, "user": {"id": user_id, "name": user["name"], "profile": profile}}
        if method == "conversations.open":
            users = str(params.get("users") or "")
            return {"ok": True, "channel": {"id": "D" + users.split(",", maxsplit=1)[0]}}
        if method == "files.getUploadURLExternal":
            return self._upload_url(params)
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        if method == "files.info":
            return {"ok": True, "file": {"id": params.get("file")}}
        if method.startswith("assistant.threads."):
            return self._assistant_threads(method, params)
        return {"ok": True}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        length = str(params.get("length") or "")
        if not params.get("filename") or not length.isdigit() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):06d}"
        self.pending_uploads[file_id] = {"filename": params["filename"], "length": int(length)}
        return {"ok": True, "upload_url": f"{self.root}upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            return {"ok": False, "error": "invalid_arguments"}
        if any(f["id"] not in self.uploads or f["id"] in self.files for f in files):
            return {"ok": False, "error": "file_not_found"}
        for f in files:
            pending = self.pending_uploads[f["id"]]
            self.files[f["id"]] = {
                "name": pending["filename"],
                "title": f.get("title") or pending["filename"],
                "channel": params.get("channel_id"),
                "thread_ts": params.get("thread_ts"),
                "content": self.uploads[f["id"]].decode("utf-8", "replace"),
            }
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    @staticmethod
    def _assistant_threads(method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Slack's checks on assistant.threads.setStatus/setTitle/setSuggestedPrompts: a channel
        and thread are required, a title or status must be given, 1 to 4 prompts each with a
        title and a message. Slack answers ``{"ok": true}`` and nothing else."""
        if not params.get("channel_id") or not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if method == "assistant.threads.setStatus" and "status" not in params:
            return {"ok": False, "error": "invalid_arguments"}
        if method == "assistant.threads.setTitle" and not params.get("title"):
            return {"ok": False, "error": "invalid_arguments"}
        if method == "assistant.threads.setSuggestedPrompts":
            prompts = params.get("prompts")
            if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
                return {"ok": False, "error": "invalid_arguments"}
            if not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
                return {"ok": False, "error": "invalid_arguments"}
        if method not in (
            "assistant.threads.setStatus",
            "assistant.threads.setTitle",
            "assistant.threads.setSuggestedPrompts",
        ):
            return {"ok": False, "error": "unknown_method"}
        return {"ok": True}
