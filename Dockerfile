# TfPilot's service image: `tfpilot serve` (HTTP mode: Slack events, webhooks, API, health) from
# the hash-locked runtime requirements plus the openai extra (set OPENAI_API_KEY to use it).
#   docker build -t tfpilot:0.1.0 .        deploy/README.md: docker compose and Kubernetes
#
# Base: python:3.11.14-slim (Debian trixie), pinned by the digest of its multi-architecture index
# (linux/amd64, linux/arm64/v8), the one python:3.11-slim and 3.11-slim-trixie pointed to in
# August 2026 (taken from published build records: no registry is reachable where this file is
# written). Both stages use the same image, so the virtualenv built in the first runs on the
# second's interpreter. Refresh tag and digest together:
#   docker buildx imagetools inspect python:3.11-slim

FROM python:3.11.14-slim@sha256:c8271b1f627d0068857dce5b53e14a9558603b527e46f1f901722f935b786a39 AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first: this layer is rebuilt only when a lock changes. The script installs with
# --require-hashes (the same script `make runtime-check` tests on a fresh virtualenv).
COPY requirements/ requirements/
COPY deploy/install-runtime.sh deploy/
RUN sh deploy/install-runtime.sh deps /opt/tfpilot --with-openai
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY assistant/ assistant/
COPY core/ core/
COPY module_registry/ module_registry/
RUN sh deploy/install-runtime.sh project /opt/tfpilot

FROM python:3.11.14-slim@sha256:c8271b1f627d0068857dce5b53e14a9558603b527e46f1f901722f935b786a39
LABEL org.opencontainers.image.title="tfpilot" \
      org.opencontainers.image.description="Terraform self-service in Slack: tfpilot serve" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/tfpilot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TFPILOT_DATA_DIR=/var/lib/tfpilot
# A fixed non-root uid/gid (10001): Kubernetes' runAsUser and volume ownership refer to it.
RUN groupadd --system --gid 10001 tfpilot \
    && useradd --system --uid 10001 --gid tfpilot --home-dir /var/lib/tfpilot --no-create-home \
       --shell /usr/sbin/nologin tfpilot \
    && mkdir -p /var/lib/tfpilot \
    && chown tfpilot:tfpilot /var/lib/tfpilot
COPY --from=builder /opt/tfpilot /opt/tfpilot
USER 10001:10001
WORKDIR /var/lib/tfpilot
# Local storage when TFPILOT_REQUESTS_BUCKET is unset (one host); replicas on S3 keep nothing here.
VOLUME ["/var/lib/tfpilot"]
EXPOSE 8080
# Readiness (storage and GitHub reachable), with the standard library: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8080/api/ready', timeout=4).status != 200)"]
# Extra arguments are appended: `docker run IMAGE --socket`, `--log-level debug`, `--no-reconciler`.
ENTRYPOINT ["tfpilot", "serve", "--host", "0.0.0.0", "--port", "8080"]
