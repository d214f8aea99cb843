# One image for the operator, the sidecar and migrations:
#   mission-control operator | sidecar | migrate
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 mission-control \
 && useradd --system --uid 10001 --gid mission-control --no-create-home mission-control
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["mission-control"]
CMD ["operator"]
