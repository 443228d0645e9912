"""A botocore ``before-send`` hook that lets one conditional PutObject reach the server and then
drops its response: the client sees a timeout, retries the same conditional put, and gets 412
for its own write (what S3 can do when an answer is lost)."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session


class LoseFirstResponse:
    """Delivers the first request carrying ``header`` (``If-None-Match``: a create,
    ``If-Match``: a replace) to the server, then drops its response."""

    def __init__(self, header: str) -> None:
        self.header = header
        self.http = URLLib3Session()
        self.dropped: list[int] = []  # status codes the client never saw
        self.armed = True

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> None:
        if not self.armed or self.header not in request.headers:
            return
        self.armed = False
        landed = self.http.send(request)  # the write reaches S3 ...
        self.dropped.append(landed.status_code)
        raise ReadTimeoutError(endpoint_url=request.url)  # ... and its answer never comes back
