# One image for every role: `jiangtang serve --no-worker`, `jiangtang worker`, `jiangtang migrate`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    JIANGTANG_HOST=0.0.0.0 JIANGTANG_PORT=8000 JIANGTANG_DATA_DIR=/var/lib/jiangtang \
    JIANGTANG_LOG_JSON=1 JIANGTANG_ENV=production

RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk curl procps \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/jiangtang jiangtang \
    && install -d -o jiangtang -g jiangtang /var/lib/jiangtang/work

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY server ./server
COPY worker ./worker
COPY web ./web
RUN pip install -c constraints.txt .

USER jiangtang
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=4 CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
ENTRYPOINT ["jiangtang"]
CMD ["serve", "--no-worker"]
