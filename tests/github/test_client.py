"""GitHubClient: headers, base URLs, retries, rate limits, ETags, counters and safe logging."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import respx

from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubApiError, GitHubClient, expand_path
from core.ports.code_host import CodeHostError
from tests.github import payloads
from tests.github.conftest import TOKEN, FakeTime
from tests.github.openapi_contract import OpenApiChecker

REF_PATH = "/repos/acme/infra/git/ref/heads/main"
REF_TEMPLATE = "/repos/{owner}/{repo}/git/ref/{ref}"
REF_PARAMS = {"owner": "acme", "repo": "infra", "ref": "heads/main"}


def get_ref(client: GitHubClient) -> object:
    return client.get(REF_TEMPLATE, path=REF_PARAMS).data


def test_sends_the_api_headers_and_bearer_token(client: GitHubClient, github_api: respx.MockRouter) -> None:
    route = github_api.get(REF_PATH).respond(200, json=payloads.ref("main", payloads.sha("a")))
    assert get_ref(client) == payloads.ref("main", payloads.sha("a"))
    sent = route.calls.last.request
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["user-agent"].startswith("tfpilot")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"


def test_enterprise_server_base_url(make_openapi_checker: Callable[[str], OpenApiChecker]) -> None:
    base = "https://ghe.example.test/api/v3"
    checker = make_openapi_checker(base)
    router = respx.MockRouter(base_url=base, assert_all_called=False)
    route = router.get(REF_PATH).respond(200, json=payloads.ref("main", payloads.sha("a")))
    client = GitHubClient(auth=StaticToken("t"), base_url=base + "/", transport=checker.transport(router.handler))
    get_ref(client)
    assert str(route.calls.last.request.url) == "https://ghe.example.test/api/v3/repos/acme/infra/git/ref/heads/main"
    assert checker.operation_ids() == ["git/get-ref"]


def test_path_values_are_encoded_and_cannot_escape() -> None:
    assert (
        expand_path(REF_TEMPLATE, {**REF_PARAMS, "ref": "heads/a b#c"}) == "/repos/acme/infra/git/ref/heads/a%20b%23c"
    )
    with pytest.raises(ValueError, match="must not contain"):
        expand_path(REF_TEMPLATE, {**REF_PARAMS, "owner": "acme/evil"})
    with pytest.raises(ValueError, match="invalid path parameter"):
        expand_path(REF_TEMPLATE, {**REF_PARAMS, "ref": "heads/../../x"})
    with pytest.raises(ValueError, match="missing path parameter"):
        expand_path(REF_TEMPLATE, {"owner": "acme", "repo": "infra"})


def test_500_then_success_is_retried_with_backoff(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    github_api.get(REF_PATH).mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json=payloads.ref("main", payloads.sha("a")))]
    )
    assert get_ref(client) == payloads.ref("main", payloads.sha("a"))
    assert client.stats.reads == 2
    assert client.stats.retries == 1
    assert sleeps == [0.375]  # attempt 1: ceiling 0.5, jitter 0.5 -> 0.25 + 0.125


def test_backoff_grows_and_is_capped(make_client: Callable[..., GitHubClient]) -> None:
    client = make_client(rand=lambda: 1.0, backoff_base=1.0, backoff_cap=4.0)
    assert [client.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    low = make_client(rand=lambda: 0.0, backoff_base=1.0, backoff_cap=4.0)
    assert [low.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_502_every_time_ends_in_a_clear_retryable_error(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = github_api.get(REF_PATH).respond(
        502, text="<html>Bad Gateway</html>", headers={"x-github-request-id": "R1"}
    )
    with pytest.raises(GitHubApiError) as caught:
        get_ref(client)
    assert route.call_count == client.max_attempts == 4
    assert caught.value.status == 502
    assert caught.value.retryable is True
    assert caught.value.request_id == "R1"
    assert "GET /repos/{owner}/{repo}/git/ref/{ref} -> 502: Bad Gateway after 4 attempts" in str(caught.value)
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"), httpx.ReadTimeout("slow read")],
)
def test_transport_errors_then_success(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float], failure: Exception
) -> None:
    github_api.get(REF_PATH).mock(side_effect=[failure, failure, httpx.Response(200, json={"object": {"sha": "x"}})])
    assert get_ref(client) == {"object": {"sha": "x"}}
    assert client.stats.transport_errors == 2
    assert client.stats.reads == 3
    assert len(sleeps) == 2


def test_timeouts_every_time_end_in_a_clear_error(client: GitHubClient, github_api: respx.MockRouter) -> None:
    github_api.get(REF_PATH).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(CodeHostError, match=r"failed after 4 attempt\(s\): ReadTimeout") as caught:
        get_ref(client)
    assert caught.value.retryable is True


def test_a_write_that_may_have_happened_is_not_repeated(client: GitHubClient, github_api: respx.MockRouter) -> None:
    route = github_api.post("/repos/acme/infra/issues/7/comments").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(CodeHostError, match="may have been applied"):
        client.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            path={"owner": "acme", "repo": "infra", "issue_number": 7},
            json={"body": "hi"},
            retry_ambiguous=False,
        )
    assert route.call_count == 1
    route.mock(side_effect=[httpx.Response(502)])
    with pytest.raises(GitHubApiError, match="may have been applied"):
        client.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            path={"owner": "acme", "repo": "infra", "issue_number": 7},
            json={"body": "hi"},
            retry_ambiguous=False,
        )
    assert route.call_count == 2


def test_a_write_that_never_left_is_retried_even_when_not_repeatable(
    client: GitHubClient, github_api: respx.MockRouter
) -> None:
    route = github_api.post("/repos/acme/infra/issues/7/comments").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": 1})]
    )
    client.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        path={"owner": "acme", "repo": "infra", "issue_number": 7},
        json={"body": "hi"},
        retry_ambiguous=False,
    )
    assert route.call_count == 2


def test_404_maps_to_code_host_error_with_githubs_message(client: GitHubClient, github_api: respx.MockRouter) -> None:
    github_api.get(REF_PATH).respond(
        404, json={"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    )
    with pytest.raises(CodeHostError) as caught:
        get_ref(client)
    assert isinstance(caught.value, GitHubApiError)
    assert caught.value.status == 404
    assert caught.value.retryable is False
    assert caught.value.github_message == "Not Found"
    assert client.stats.reads == 1  # a 4xx is not retried


def test_422_details_are_in_the_message(client: GitHubClient, github_api: respx.MockRouter) -> None:
    github_api.post("/repos/acme/infra/git/refs").respond(
        422,
        json={
            "message": "Validation Failed",
            "errors": [{"resource": "Reference", "code": "custom", "message": "Reference already exists"}],
        },
    )
    with pytest.raises(GitHubApiError) as caught:
        client.post(
            "/repos/{owner}/{repo}/git/refs",
            path={"owner": "acme", "repo": "infra"},
            json={"ref": "refs/heads/x", "sha": payloads.sha("a")},
        )
    assert "Validation Failed (Reference already exists)" in str(caught.value)
    assert caught.value.mentions("already exists")


def test_secondary_rate_limit_403_honours_retry_after(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    github_api.get(REF_PATH).mock(
        side_effect=[
            httpx.Response(
                403,
                json={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
                headers={"retry-after": "30"},
            ),
            httpx.Response(200, json={"object": {"sha": "x"}}),
        ]
    )
    assert get_ref(client) == {"object": {"sha": "x"}}
    assert sleeps == [30.0]
    assert client.stats.rate_limit_waits == 1
    assert client.stats.slept_seconds == 30.0


def test_secondary_rate_limit_without_headers_waits_a_minute(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    github_api.get(REF_PATH).mock(
        side_effect=[
            httpx.Response(403, json={"message": "You have exceeded a secondary rate limit."}),
            httpx.Response(200, json={"object": {"sha": "x"}}),
        ]
    )
    get_ref(client)
    assert sleeps == [60.0]


def test_429_honours_retry_after(client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]) -> None:
    github_api.get(REF_PATH).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "5"}), httpx.Response(200, json={})]
    )
    get_ref(client)
    assert sleeps == [5.0]


def test_primary_limit_waits_until_reset_within_the_bound(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float], fake_time: FakeTime
) -> None:
    reset = int(fake_time.value) + 20
    github_api.get(REF_PATH).mock(
        side_effect=[
            httpx.Response(
                403,
                json={"message": "API rate limit exceeded for installation ID 1."},
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
            ),
            httpx.Response(200, json={}, headers={"x-ratelimit-remaining": "4999"}),
        ]
    )
    get_ref(client)
    assert sleeps == [21.0]
    assert client.stats.last_rate_limit_remaining == 4999


def test_rate_limit_reset_beyond_the_bound_is_a_clear_error(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float], fake_time: FakeTime
) -> None:
    reset = int(fake_time.value) + 1800
    route = github_api.get(REF_PATH).respond(
        403,
        json={"message": "API rate limit exceeded for installation ID 1."},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(GitHubApiError) as caught:
        get_ref(client)
    error = caught.value
    assert route.call_count == 1
    assert sleeps == []
    assert error.retryable is True
    assert error.status == 403
    assert error.retry_at == reset + 1
    assert "retry after 2027-01-15T08:30:01Z (in 1801 s)" in str(error)
    assert "API rate limit exceeded" in str(error)
    assert client.stats.last_rate_limit_remaining == 0


def test_rate_limit_waits_are_bounded_in_number(
    client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    github_api.get(REF_PATH).respond(429, headers={"retry-after": "1"})
    with pytest.raises(GitHubApiError, match="rate limit"):
        get_ref(client)
    assert sleeps == [1.0, 1.0]  # max_rate_limit_retries=2, then the error


def test_plain_403_is_not_a_rate_limit(client: GitHubClient, github_api: respx.MockRouter, sleeps: list[float]) -> None:
    github_api.get(REF_PATH).respond(403, json={"message": "Resource not accessible by integration"})
    with pytest.raises(GitHubApiError, match="Resource not accessible by integration") as caught:
        get_ref(client)
    assert caught.value.retryable is False
    assert sleeps == []


def test_etag_304_is_served_from_cache_and_costs_no_rate_limit(
    client: GitHubClient, github_api: respx.MockRouter
) -> None:
    body = payloads.ref("main", payloads.sha("a"))
    route = github_api.get(REF_PATH).mock(
        side_effect=[
            httpx.Response(200, json=body, headers={"etag": 'W/"abc"', "x-ratelimit-remaining": "4999"}),
            httpx.Response(304, headers={"etag": 'W/"abc"', "x-ratelimit-remaining": "4999"}),
            httpx.Response(304, headers={"etag": 'W/"abc"'}),
        ]
    )
    first = client.get(REF_TEMPLATE, path=REF_PARAMS)
    second = client.get(REF_TEMPLATE, path=REF_PARAMS)
    third = client.get(REF_TEMPLATE, path=REF_PARAMS)
    assert "if-none-match" not in route.calls[0].request.headers
    assert route.calls[1].request.headers["if-none-match"] == 'W/"abc"'
    assert (first.from_cache, second.from_cache, third.from_cache) == (False, True, True)
    assert second.data == third.data == body
    assert client.stats.reads == 3
    assert client.stats.not_modified == 2
    assert client.stats.rate_limit_cost == 1


def test_etag_cache_is_per_query_and_refreshed_on_change(client: GitHubClient, github_api: respx.MockRouter) -> None:
    route = github_api.get("/repos/acme/infra/pulls").mock(
        side_effect=[
            httpx.Response(200, json=[], headers={"etag": '"one"'}),
            httpx.Response(200, json=[{"number": 1}], headers={"etag": '"two"'}),
            httpx.Response(200, json=[], headers={"etag": '"three"'}),
        ]
    )
    template = "/repos/{owner}/{repo}/pulls"
    path = {"owner": "acme", "repo": "infra"}
    client.get(template, path=path, params={"state": "open"})
    changed = client.get(template, path=path, params={"state": "open"})
    client.get(template, path=path, params={"state": "all"})
    assert changed.data == [{"number": 1}] and changed.from_cache is False
    assert route.calls[1].request.headers["if-none-match"] == '"one"'
    assert "if-none-match" not in route.calls[2].request.headers
    assert client.stats.not_modified == 0


def test_counters_split_reads_and_writes_by_operation(client: GitHubClient, github_api: respx.MockRouter) -> None:
    github_api.get(REF_PATH).respond(
        200, json={}, headers={"x-ratelimit-remaining": "4100", "x-ratelimit-limit": "5000"}
    )
    github_api.post("/repos/acme/infra/issues/3/comments").respond(201, json={"id": 9})
    get_ref(client)
    get_ref(client)
    client.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        path={"owner": "acme", "repo": "infra", "issue_number": 3},
        json={"body": "x"},
    )
    snap = client.stats.snapshot()
    assert (snap["reads"], snap["writes"], snap["calls"]) == (2, 1, 3)
    assert snap["by_operation"] == {
        "GET /repos/{owner}/{repo}/git/ref/{ref}": 2,
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": 1,
    }
    assert snap["last_rate_limit_remaining"] == 4100
    assert client.stats.last_rate_limit_limit == 5000


def test_each_call_is_logged_with_template_status_and_request_id_never_the_token(
    client: GitHubClient, github_api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    github_api.get(REF_PATH).mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={}, headers={"x-github-request-id": "ABCD:1234"})]
    )
    github_api.get("/repos/acme/infra/pulls/9").respond(
        401, json={"message": f"Bad credentials for {REF_PATH}"}, headers={"x-github-request-id": "EF:56"}
    )
    get_ref(client)
    with pytest.raises(GitHubApiError):
        client.get(
            "/repos/{owner}/{repo}/pulls/{pull_number}", path={"owner": "acme", "repo": "infra", "pull_number": 9}
        )
    records = [r for r in caplog.records if r.name == "tfpilot.github"]
    assert [(r.github_method, r.github_path, r.github_status, r.github_attempt) for r in records] == [
        ("GET", REF_TEMPLATE, 500, 1),
        ("GET", REF_TEMPLATE, 200, 2),
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 401, 1),
    ]
    assert records[1].github_request_id == "ABCD:1234"
    assert records[0].levelno == logging.WARNING
    assert all(isinstance(r.github_duration_ms, float) for r in records)
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert all(TOKEN not in str(value) for value in vars(record).values())
        assert "authorization" not in str(vars(record)).lower()


def test_reprs_hide_the_token(client: GitHubClient) -> None:
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.auth)


def test_a_static_token_401_is_not_retried_forever(client: GitHubClient, github_api: respx.MockRouter) -> None:
    route = github_api.get(REF_PATH).respond(401, json={"message": "Bad credentials"})
    with pytest.raises(GitHubApiError, match="Bad credentials"):
        get_ref(client)
    assert route.call_count == 1  # a static token cannot be refreshed


def test_token_override_replaces_the_provider(client: GitHubClient, github_api: respx.MockRouter) -> None:
    route = github_api.get(REF_PATH).respond(200, json={})
    client.get(REF_TEMPLATE, path=REF_PARAMS, token="gho_user")
    assert route.calls.last.request.headers["authorization"] == "Bearer gho_user"


def test_download_sends_no_authorization_and_is_bounded(
    client: GitHubClient,
    github_api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    openapi_checker: OpenApiChecker,
) -> None:
    caplog.set_level(logging.INFO, logger="tfpilot.github")
    url = "https://blob.example.test/artifact.zip?sig=SECRETSIGNATURE"
    route = github_api.get(url).respond(200, content=b"x" * 100)
    assert client.download(url, max_bytes=100) == b"x" * 100
    assert "authorization" not in route.calls.last.request.headers
    with pytest.raises(CodeHostError, match="over the 99-byte limit"):
        client.download(url, max_bytes=99)
    assert "SECRETSIGNATURE" not in caplog.text
    assert "blob.example.test" in caplog.text
    assert client.stats.downloads == 2
    assert client.stats.calls == 0  # downloads are not GitHub API calls
    assert openapi_checker.external == ["blob.example.test", "blob.example.test"]


def test_no_log_shows_a_signed_download_url(
    client: GitHubClient, github_api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each request's URL at INFO on its own logger: the artifact URL's signature
    (its query string) must not reach any log, whatever level the service runs at."""
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included
    url = "https://blob.example.test/artifact.zip?sv=2021&se=2026&sig=SECRETSIGNATURE"
    github_api.get(url).respond(200, content=b"zip")
    assert client.download(url, max_bytes=100) == b"zip"
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("blob.example.test/artifact.zip" in line for line in httpx_lines)  # still logged, without its query
    assert "SECRETSIGNATURE" not in caplog.text and "sig=" not in caplog.text
    assert all("?" not in line for line in httpx_lines)
