"""``GitHubClient``: one thin, typed, synchronous client for GitHub's REST API over httpx.

It owns every HTTP concern so ``GitHubCodeHost`` only speaks in operations: the base URL
(github.com or an Enterprise Server ``https://host/api/v3``), the ``Accept`` / API-version /
User-Agent headers, the bearer token from a ``TokenProvider``, bounded retries with jittered
exponential backoff on 5xx, timeouts and connection errors, waits on primary/secondary rate
limits (``retry-after``, ``x-ratelimit-reset``) up to a bound and a clear error beyond it,
conditional GETs with an ETag cache (a 304 is served from the cache and costs no rate limit),
call counters for metrics and benchmarks, and one structured log line per call with the path
*template*, status, duration and GitHub's request id, never a token or a signed URL (httpx's own
request log gets URLs without their query string: ``HttpxUrlQueryFilter``).
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from core.adapters.github.auth import TokenProvider
from core.ports.code_host import CodeHostError

LOG = logging.getLogger("tfpilot.github")

API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github+json"
USER_AGENT = "tfpilot-github-client/0.1"
DEFAULT_API_URL = "https://api.github.com"

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# Path parameters that may hold slashes (a ref such as ``heads/request/req_x``, a file path).
MULTI_SEGMENT_PARAMS = frozenset({"ref", "path"})
# GitHub's guidance for a secondary rate limit that names no wait: at least one minute.
SECONDARY_LIMIT_DEFAULT_WAIT = 60.0
MAX_CACHED_BODY = 1_000_000

QueryValue = str | int | bool
PathValue = str | int


class GitHubApiError(CodeHostError):
    """GitHub answered with an error status. ``github_message`` is GitHub's own message;
    ``retry_at`` (epoch seconds) is set when a rate limit says when to try again."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        retryable: bool = False,
        github_message: str = "",
        errors: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        super().__init__(message, status=status, retryable=retryable)
        self.github_message = github_message
        self.errors = errors or []
        self.request_id = request_id
        self.retry_at = retry_at

    def with_note(self, note: str) -> GitHubApiError:
        return GitHubApiError(
            f"{self} {note}",
            status=self.status,
            retryable=self.retryable,
            github_message=self.github_message,
            errors=self.errors,
            request_id=self.request_id,
            retry_at=self.retry_at,
        )

    def mentions(self, text: str) -> bool:
        """Whether GitHub's message or its error details contain ``text`` (case-insensitive)."""
        needle = text.lower()
        haystack = [self.github_message] + [
            str(err.get("message") or err.get("code") or "") for err in self.errors if isinstance(err, dict)
        ]
        return any(needle in part.lower() for part in haystack)


@dataclass(frozen=True)
class GitHubResponse:
    status: int
    headers: httpx.Headers
    data: Any
    content: bytes = b""
    from_cache: bool = False

    @property
    def not_modified(self) -> bool:
        """A 304 to an ``if_none_match`` the caller gave: its remembered answer still holds."""
        return self.status == 304 and not self.from_cache

    @property
    def request_id(self) -> str | None:
        value: str | None = self.headers.get("x-github-request-id")
        return value


@dataclass
class CallStats:
    """What the client spent: every request sent counts as a read (GET) or a write; a 304 is
    also counted in ``not_modified`` because GitHub does not charge it to the rate limit."""

    reads: int = 0
    writes: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    transport_errors: int = 0
    downloads: int = 0
    slept_seconds: float = 0.0
    last_rate_limit_remaining: int | None = None
    last_rate_limit_limit: int | None = None
    by_operation: Counter[str] = field(default_factory=Counter)

    @property
    def calls(self) -> int:
        return self.reads + self.writes

    @property
    def rate_limit_cost(self) -> int:
        """Requests that count against the primary rate limit (304s do not)."""
        return self.calls - self.not_modified

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "reads": self.reads,
            "writes": self.writes,
            "not_modified": self.not_modified,
            "rate_limit_cost": self.rate_limit_cost,
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "transport_errors": self.transport_errors,
            "downloads": self.downloads,
            "slept_seconds": self.slept_seconds,
            "last_rate_limit_remaining": self.last_rate_limit_remaining,
            "by_operation": dict(self.by_operation),
        }


class _EtagCache:
    """A bounded LRU of the last 200 response per GET URL, keyed with its ETag."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._items: OrderedDict[str, tuple[str, GitHubResponse]] = OrderedDict()

    def get(self, key: str) -> tuple[str, GitHubResponse] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, etag: str, response: GitHubResponse) -> None:
        if self._max <= 0:
            return
        self._items[key] = (etag, response)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _Call:
    """The state of one logical request across its attempts."""

    method: str
    template: str
    path: dict[str, PathValue]
    query: dict[str, str]
    body: bytes | None
    token: str | None
    retry_ambiguous: bool
    url: str = ""
    cache_key: str = ""
    cacheable: bool = False
    if_none_match: str | None = None  # an ETag remembered elsewhere (on the request document)
    attempt: int = 0
    rate_waits: int = 0
    refreshed: bool = False

    @property
    def is_read(self) -> bool:
        return self.method in ("GET", "HEAD")

    @property
    def may_repeat(self) -> bool:
        return self.is_read or self.retry_ambiguous


class HttpxUrlQueryFilter(logging.Filter):
    """httpx logs every request's full URL at INFO ("HTTP Request: GET <url> ..."). An
    artifact's download URL carries its signature in the query string (a credential for a
    minute), so URLs reach that log without their query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) and a.query for a in record.args):
            record.args = tuple(
                a.copy_with(query=None) if isinstance(a, httpx.URL) and a.query else a for a in record.args
            )
        return True


_HTTPX_LOG_LOCK = threading.Lock()


def guard_httpx_log() -> None:
    """Put ``HttpxUrlQueryFilter`` on the ``httpx`` logger, once per process."""
    logger = logging.getLogger("httpx")
    with _HTTPX_LOG_LOCK:
        if not any(isinstance(f, HttpxUrlQueryFilter) for f in logger.filters):
            logger.addFilter(HttpxUrlQueryFilter())


class GitHubClient:
    """Synchronous GitHub REST client. Thread-safe: counters and the cache take a lock."""

    def __init__(
        self,
        *,
        auth: TokenProvider | None,
        base_url: str = DEFAULT_API_URL,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        user_agent: str = USER_AGENT,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_rate_limit_wait: float = 60.0,
        max_rate_limit_retries: int = 2,
        etag_cache_size: int = 1024,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        logger: logging.Logger | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the GitHub API URL must be an http(s) URL")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.user_agent = user_agent
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_limit_wait = max_rate_limit_wait
        self.max_rate_limit_retries = max_rate_limit_retries
        self.stats = CallStats()
        self._sleep = sleep
        self.now = now
        self._rand = rand
        self._log = logger or LOG
        self._lock = threading.Lock()
        self._cache = _EtagCache(etag_cache_size)
        guard_httpx_log()
        self._owns_http = http is None
        self._http = http or httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    # --- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r})"

    # --- helpers used by adapters ---------------------------------------------------------
    def pause(self, seconds: float) -> None:
        """Sleep through the injected ``sleep`` (tests record instead of sleeping)."""
        if seconds <= 0:
            return
        with self._lock:
            self.stats.slept_seconds += seconds
        self._sleep(seconds)

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay before retry number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** max(attempt - 1, 0))
        return ceiling / 2 + self._rand() * ceiling / 2

    def url_for(self, template: str, path: Mapping[str, PathValue] | None = None) -> str:
        return self.base_url + expand_path(template, path or {})

    # --- verbs ----------------------------------------------------------------------------
    @staticmethod
    def cache_key(url: str, query: Mapping[str, str]) -> str:
        return url + "?" + "&".join(f"{k}={v}" for k, v in sorted(query.items()))

    def get(self, template: str, **kwargs: Any) -> GitHubResponse:
        return self.request("GET", template, **kwargs)

    def post(self, template: str, **kwargs: Any) -> GitHubResponse:
        return self.request("POST", template, **kwargs)

    def put(self, template: str, **kwargs: Any) -> GitHubResponse:
        return self.request("PUT", template, **kwargs)

    def patch(self, template: str, **kwargs: Any) -> GitHubResponse:
        return self.request("PATCH", template, **kwargs)

    def request(
        self,
        method: str,
        template: str,
        *,
        path: Mapping[str, PathValue] | None = None,
        params: Mapping[str, QueryValue | None] | None = None,
        json: Any = None,
        token: str | None = None,
        retry_ambiguous: bool = True,
        use_cache: bool = True,
        if_none_match: str | None = None,
    ) -> GitHubResponse:
        """Send one logical request (with retries). ``token`` overrides the provider (a user's
        token, or the App JWT). ``retry_ambiguous=False`` keeps a write from being repeated
        when it may already have happened (a read timeout or a 5xx): the error says so.
        ``if_none_match`` is an ETag the caller remembers (with its own copy of the answer) for
        a GET this client has no cached answer of: a 304 then comes back as a response with
        status 304 and no data (``not_modified``), costing no rate limit."""
        call = _Call(
            method=method.upper(),
            template=template,
            path=dict(path or {}),
            query=_clean_query(params),
            body=None if json is None else _dump(json),
            token=token,
            retry_ambiguous=retry_ambiguous,
        )
        call.url = self.url_for(template, call.path)
        call.cacheable = call.is_read and use_cache and token is None
        call.cache_key = self.cache_key(call.url, call.query)
        call.if_none_match = if_none_match if call.is_read and token is None else None
        while True:
            call.attempt += 1
            result = self._attempt(call)
            if result is not None:
                return result

    def _attempt(self, call: _Call) -> GitHubResponse | None:
        """One HTTP exchange: the response, or None to go round again (after any wait)."""
        headers = self._headers(call.token, call.path)
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        with self._lock:
            cached = self._cache.get(call.cache_key) if call.cacheable else None
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        elif call.if_none_match:
            headers["If-None-Match"] = call.if_none_match
        started = time.monotonic()
        try:
            response = self._http.request(
                call.method, call.url, params=call.query or None, headers=headers, content=call.body
            )
        except httpx.TransportError as exc:
            self._on_transport_error(call, exc, started)
            return None
        self._count(call.method, call.template, response)
        self._log_call(
            call.method, call.template, response, started, response.headers.get("x-github-request-id"), call.attempt
        )
        status = response.status_code
        if status == 304 and cached is not None:
            with self._lock:
                self.stats.not_modified += 1
            hit = cached[1]
            return GitHubResponse(hit.status, hit.headers, hit.data, hit.content, from_cache=True)
        if status == 304 and call.if_none_match:
            with self._lock:
                self.stats.not_modified += 1
            return GitHubResponse(304, response.headers, None)  # the caller holds the answer
        if status < 400:
            result = GitHubResponse(status, response.headers, _parse(response), response.content)
            etag = response.headers.get("etag")
            if call.cacheable and status == 200 and etag and len(response.content) <= MAX_CACHED_BODY:
                with self._lock:
                    self._cache.put(call.cache_key, etag, result)
            return result
        self._on_error_response(call, response)
        return None

    def _on_transport_error(self, call: _Call, exc: httpx.TransportError, started: float) -> None:
        """Count and log a failed exchange; return to retry or raise a retryable error."""
        self._count(call.method, call.template, None)
        with self._lock:
            self.stats.transport_errors += 1
        self._log_call(call.method, call.template, None, started, None, call.attempt, error=type(exc).__name__)
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if (never_sent or call.may_repeat) and call.attempt < self.max_attempts:
            self._retry_pause(call.attempt)
            return
        outcome = "" if never_sent else " (the request may have been applied)"
        raise CodeHostError(
            f"GitHub {call.method} {call.template} failed after {call.attempt} attempt(s): "
            f"{type(exc).__name__}{outcome}",
            retryable=True,
        ) from exc

    def _on_error_response(self, call: _Call, response: httpx.Response) -> None:
        """Decide about a 4xx/5xx: return to go round again (after waiting) or raise."""
        status = response.status_code
        error = self._error(call.method, call.template, response)
        if status == 401 and call.token is None and self.auth is not None and not call.refreshed:
            # An installation token can be revoked or expire early: fetch a fresh one once.
            call.refreshed = True
            if self.auth.invalidate():
                return
        wait = self._rate_limit_wait(response, error)
        if wait is not None:
            retry_at = self.now() + wait
            if wait > self.max_rate_limit_wait or call.rate_waits >= self.max_rate_limit_retries:
                raise GitHubApiError(
                    f"GitHub rate limit hit on {call.method} {call.template} ({status}): retry after "
                    f"{_iso(retry_at)} (in {wait:.0f} s). GitHub said: {error.github_message or 'rate limited'}",
                    status=status,
                    retryable=True,
                    github_message=error.github_message,
                    request_id=error.request_id,
                    retry_at=retry_at,
                )
            call.rate_waits += 1
            with self._lock:
                self.stats.rate_limit_waits += 1
            self.pause(wait)
            return
        if status in RETRYABLE_STATUSES:
            if not call.may_repeat:
                raise error.with_note("(the request may have been applied)")
            if call.attempt < self.max_attempts:
                self._retry_pause(call.attempt)
                return
            raise error.with_note(f"after {call.attempt} attempts")
        raise error

    def download(self, url: str, *, max_bytes: int) -> bytes:
        """GET a URL outside the API (an artifact's signed redirect target) without our
        Authorization header, refusing bodies over ``max_bytes``. Only the host is logged:
        the query string of a signed URL is a credential."""
        host = urlsplit(url).netloc
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                with self._http.stream(
                    "GET", url, headers={"User-Agent": self.user_agent}, follow_redirects=True
                ) as response:
                    with self._lock:
                        self.stats.downloads += 1
                    self._log_call("GET", f"download://{host}", response, started, None, attempt)
                    if response.status_code in RETRYABLE_STATUSES and attempt < self.max_attempts:
                        self._retry_pause(attempt)
                        continue
                    if response.status_code >= 400:
                        raise CodeHostError(
                            f"artifact download from {host} failed with {response.status_code}",
                            status=response.status_code,
                            retryable=response.status_code in RETRYABLE_STATUSES,
                        )
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise CodeHostError(f"artifact is {declared} bytes, over the {max_bytes}-byte limit")
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise CodeHostError(f"artifact is over the {max_bytes}-byte limit")
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TransportError as exc:
                self._log_call("GET", f"download://{host}", None, started, None, attempt, error=type(exc).__name__)
                if attempt < self.max_attempts:
                    self._retry_pause(attempt)
                    continue
                raise CodeHostError(
                    f"artifact download from {host} failed: {type(exc).__name__}", retryable=True
                ) from exc

    # --- internals ------------------------------------------------------------------------
    def _headers(self, token: str | None, path: Mapping[str, PathValue]) -> dict[str, str]:
        headers = {
            "Accept": ACCEPT,
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": self.user_agent,
        }
        if token is None and self.auth is not None:
            owner = path.get("owner")
            repo = path.get("repo")
            token = self.auth.token(
                self,
                owner=str(owner) if owner is not None else None,
                repo=str(repo) if repo is not None else None,
            )
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _retry_pause(self, attempt: int) -> None:
        with self._lock:
            self.stats.retries += 1
        self.pause(self.backoff(attempt))

    def _count(self, method: str, template: str, response: httpx.Response | None) -> None:
        with self._lock:
            if method in ("GET", "HEAD"):
                self.stats.reads += 1
            else:
                self.stats.writes += 1
            self.stats.by_operation[f"{method} {template}"] += 1
            if response is not None:
                remaining = response.headers.get("x-ratelimit-remaining")
                limit = response.headers.get("x-ratelimit-limit")
                if remaining is not None and remaining.isdigit():
                    self.stats.last_rate_limit_remaining = int(remaining)
                if limit is not None and limit.isdigit():
                    self.stats.last_rate_limit_limit = int(limit)

    def _log_call(
        self,
        method: str,
        template: str,
        response: httpx.Response | None,
        started: float,
        request_id: str | None,
        attempt: int,
        *,
        error: str | None = None,
    ) -> None:
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        status = response.status_code if response is not None else None
        level = logging.WARNING if error or (status is not None and status >= 500) else logging.INFO
        self._log.log(
            level,
            "github %s %s -> %s in %.0f ms",
            method,
            template,
            status if status is not None else error,
            duration_ms,
            extra={
                "github_method": method,
                "github_path": template,
                "github_status": status,
                "github_duration_ms": duration_ms,
                "github_request_id": request_id,
                "github_attempt": attempt,
                "github_error": error,
            },
        )

    def _error(self, method: str, template: str, response: httpx.Response) -> GitHubApiError:
        data = _parse(response)
        github_message = ""
        errors: list[dict[str, Any]] = []
        if isinstance(data, dict):
            github_message = str(data.get("message") or "")
            raw_errors = data.get("errors")
            if isinstance(raw_errors, list):
                errors = [e if isinstance(e, dict) else {"message": str(e)} for e in raw_errors]
        details = "; ".join(
            str(e.get("message") or " ".join(str(e.get(k)) for k in ("resource", "field", "code") if e.get(k)))
            for e in errors
        )
        shown = github_message or response.reason_phrase or "error"
        message = f"GitHub {method} {template} -> {response.status_code}: {shown}"
        if details:
            message += f" ({details})"
        return GitHubApiError(
            message,
            status=response.status_code,
            retryable=response.status_code in RETRYABLE_STATUSES,
            github_message=github_message,
            errors=errors,
            request_id=response.headers.get("x-github-request-id"),
        )

    def _rate_limit_wait(self, response: httpx.Response, error: GitHubApiError) -> float | None:
        """Seconds to wait when ``response`` is a rate limit, else None (a plain 403)."""
        if response.status_code not in (403, 429):
            return None
        retry_after = _retry_after_seconds(response.headers.get("retry-after"), self.now())
        if retry_after is not None:
            return retry_after
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining == "0" and reset and reset.isdigit():
            return max(int(reset) - self.now(), 0.0) + 1.0
        if response.status_code == 429 or error.mentions("rate limit"):
            return SECONDARY_LIMIT_DEFAULT_WAIT
        return None


def expand_path(template: str, values: Mapping[str, PathValue]) -> str:
    """Fill ``{name}`` placeholders, percent-encoding each value; only ``ref`` and ``path``
    may contain slashes, and no value may be empty or climb out with ``..``."""
    out = template
    for name, value in values.items():
        text = str(value)
        placeholder = "{" + name + "}"
        if placeholder not in out:
            raise ValueError(f"path parameter {name!r} is not in {template}")
        if not text or any(part in ("", ".", "..") for part in text.split("/")):
            raise ValueError(f"invalid path parameter {name}={text!r}")
        if "/" in text and name not in MULTI_SEGMENT_PARAMS:
            raise ValueError(f"path parameter {name} must not contain '/'")
        out = out.replace(placeholder, quote(text, safe="/" if name in MULTI_SEGMENT_PARAMS else ""))
    if "{" in out:
        raise ValueError(f"missing path parameter(s) in {template}")
    return out


def _clean_query(params: Mapping[str, QueryValue | None] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _dump(body: Any) -> bytes:
    return jsonlib.dumps(body, separators=(",", ":")).encode()


def _parse(response: httpx.Response) -> Any:
    if not response.content:
        return None
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
