# One image for every part of Mission Control:
#   mission-control operator | sidecar | migrate | approve | reject | logs | audit ...
#
# Stage 1 builds the project's wheel and installs it, with the dependencies pinned (and
# hash-checked) in requirements.lock, into a virtualenv. Stage 2 copies only that virtualenv:
# no compiler, no pip cache, no sources. The image runs as a numeric non-root user and needs
# no writable path (mount an emptyDir at /tmp for what libraries put there), so it works with
# readOnlyRootFilesystem: true.
#
# The base is pinned by its exact tag; pin it by digest too where your registry policy asks
# (python:3.11.14-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/mission-control
COPY requirements.lock ./
RUN /opt/mission-control/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
# The wheel is built with the locked setuptools (no build isolation) and installed without
# resolving again, so the image holds exactly the versions the tests ran against.
RUN /opt/mission-control/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/mission-control/bin/pip install --no-deps --no-index /wheels/*.whl \
 && /opt/mission-control/bin/python -m compileall -q /opt/mission-control/lib

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="mission-control" \
      org.opencontainers.image.description="A Kubernetes operator that hands operational work to an LLM agent, safely and on the record." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/mission-control /opt/mission-control
ENV PATH=/opt/mission-control/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    MC_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
# 65532: no entry in /etc/passwd is needed; Kubernetes' runAsNonRoot checks the numeric id.
USER 65532:65532
WORKDIR /tmp
# The operator answers on /healthz, the sidecar on /api/v1/health: set MC_HEALTHCHECK_URL to
# the one this container serves. Kubernetes uses the chart's probes instead of this.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['MC_HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["mission-control"]
CMD ["operator", "--all-namespaces"]
