# The collector image (also runs the simulator: `tesla-energy simulate`).
# Stage 1 builds wheels for the package and its dependencies; stage 2 installs them into a
# clean slim image that runs as an unprivileged user. No secrets are baked in: configuration
# comes from the environment at run time (see .env.example and docker-compose.yml).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector ./collector
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    COLLECTOR_STATE_DIR=/var/lib/tesla-energy \
    COLLECTOR_LOG_FORMAT=json
RUN groupadd --system --gid 10001 tesla \
    && useradd --system --uid 10001 --gid tesla --home-dir /var/lib/tesla-energy \
       --shell /usr/sbin/nologin tesla \
    && mkdir -p /var/lib/tesla-energy \
    && chown tesla:tesla /var/lib/tesla-energy
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links=/wheels tesla-energy-collector \
    && rm -rf /wheels
USER tesla
WORKDIR /var/lib/tesla-energy
VOLUME ["/var/lib/tesla-energy"]
# 8080: the simulator (`simulate --port 8080`); the collector's optional /healthz is
# COLLECTOR_HEALTH_PORT.
EXPOSE 8080
# Fresh when the daemon wrote to InfluxDB within 3 live intervals (collector/health.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-m", "collector.health"]
ENTRYPOINT ["tesla-energy"]
CMD ["run"]
