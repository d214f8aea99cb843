# One image for the operator, the sidecar and migrations:
#   mission-control operator | sidecar | migrate
#
# Dependencies come from requirements.lock (exact versions, hash-checked), the lock that
# `make lock` refreshes; the project's own wheel is then installed without resolving again.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 mission-control \
 && useradd --system --uid 10001 --gid mission-control --no-create-home mission-control
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && rm -rf /wheels
USER 10001:10001
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["mission-control"]
CMD ["operator"]
