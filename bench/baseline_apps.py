"""The baselines ``bench_serve`` measures TfPilot against, each a process of its own:

- ``python -m bench.baseline_apps bolt PORT``: a minimal Bolt app that only acks every action,
  behind Bolt's FastAPI adapter under uvicorn (the same HTTP stack as ``tfpilot serve``);
- ``python -m bench.baseline_apps empty PORT``: an empty FastAPI route under uvicorn.

``SLACK_SIGNING_SECRET``, ``SLACK_BOT_TOKEN`` and ``SLACK_API_URL`` come from the environment.
"""

import os
import re
import sys

EVENTS_PATH = "/slack/events"


def bolt_app() -> object:
    from fastapi import FastAPI, Request
    from slack_bolt import Ack, App
    from slack_bolt.adapter.fastapi import SlackRequestHandler
    from slack_sdk import WebClient

    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"].rstrip("/") + "/")
    bolt = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=True,
        token_verification_enabled=True,
    )

    @bolt.action(re.compile(".*"))
    def only_ack(ack: Ack) -> None:
        ack()

    handler = SlackRequestHandler(bolt)
    api = FastAPI()

    @api.post(EVENTS_PATH)
    async def events(request: Request) -> object:
        return await handler.handle(request)

    return api


def empty_app() -> object:
    from fastapi import FastAPI, Response

    api = FastAPI()

    @api.post(EVENTS_PATH)
    async def events() -> Response:
        return Response()

    return api


def main(argv: list[str]) -> int:
    import uvicorn

    kind, port = argv[0], int(argv[1])
    app = bolt_app() if kind == "bolt" else empty_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, backlog=2048)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
