# homesim service image: the package with its distributed, ml, api and reports extras, torch 2.13.0 (CPU
# build), run as a non-root user; `homesim serve` on 0.0.0.0:8765 over the workspace volume /workspace.
# Untested here (no Docker engine on the build machines): see docs/docker.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOMESIM_WORKSPACE=/workspace \
    HOMESIM_LOG_JSON=true

WORKDIR /opt/homesim

# torch first, from the CPU index, so the extras below find it satisfied (no CUDA wheels, no GBs).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[distributed,ml,api,reports]"

RUN useradd --create-home --uid 10001 homesim \
    && mkdir -p /workspace \
    && chown homesim:homesim /workspace
USER homesim
VOLUME ["/workspace"]
EXPOSE 8765

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=4)"

CMD ["homesim", "serve", "--host", "0.0.0.0", "--port", "8765"]
