# The Papá Noel image: web side and workers (same image, different command), plus a Redis target.
#   docker build --build-arg BASE=local/debian:bookworm -t papanoel:local .
# BASE may be any Debian bookworm image: debian:bookworm-slim where a registry is reachable, or a
# local one made by debootstrap (scripts/compose-test.sh, docs/DEPLOYMENT.md) where none is.
ARG BASE=debian:bookworm-slim

# --- build: the pinned requirements into a venv (compilers and pip stay in this stage) -------------
FROM ${BASE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# pip verifies TLS against the system bundle (a re-signing proxy's CA is in it on a local base).
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --quiet -r /tmp/requirements.txt

# --- redis: Debian's redis-server on the same base (no registry image needed) --------------------
FROM ${BASE} AS redis
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["redis-cli", "ping"]
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes"]

# --- app: runtime tools from Debian, the venv, the code, a non-root user ------------------------
FROM ${BASE} AS app
ARG DEBIAN_FRONTEND=noninteractive
# ffmpeg/ffprobe and espeak-ng do the work; prometheus ships promtool (checks monitoring/alerts.rules.yml).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates ffmpeg espeak-ng fonts-dejavu-core prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --user-group papanoel
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=papanoel:papanoel . /app
RUN mkdir -p assets output tmp cache && chown papanoel:papanoel assets output tmp cache
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
USER papanoel
EXPOSE 8000
# Healthy when Redis answers, workers beat, the queue and DLQ are within bounds (health_check.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "health_check.py"]
CMD ["python", "worker.py"]
