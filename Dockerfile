# syntax=docker/dockerfile:1
# plex-cognite extractor image: build a wheel, install it with the pinned runtime lock into a slim runtime.
#   docker build -t plex-cognite .
#   docker run --rm -v "$PWD/config.yaml:/config/config.yaml:ro" -e PLEX_API_KEY -e CDF_TOKEN -p 9108:9108 plex-cognite
# The config is read from /config/config.yaml (as Cognite's extractor images do); `${VAR}` in it comes from the
# environment. Metrics, /healthz and /readyz listen on 0.0.0.0:9108 in the container.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /dist .

FROM ${PYTHON_IMAGE} AS runtime
# MALLOC_ARENA_MAX: glibc gives each thread that allocates an arena of its own; two keep RSS lower and steadier.
ENV PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PLEX_COGNITE_METRICS__ENABLED=true \
    PLEX_COGNITE_METRICS__HOST=0.0.0.0 \
    PLEX_COGNITE_METRICS__PORT=9108
RUN groupadd --system --gid 10001 extractor \
    && useradd --system --uid 10001 --gid extractor --home-dir /var/lib/plex-cognite --create-home extractor
COPY requirements.lock /tmp/requirements.lock
RUN python -m pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /dist/*.whl /tmp/dist/
RUN python -m pip install --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist && python -m pip check
WORKDIR /var/lib/plex-cognite
USER 10001:10001
VOLUME ["/config"]
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
ENTRYPOINT ["plex-cognite"]
CMD ["run", "--config", "/config/config.yaml"]
