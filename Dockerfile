# streammon's image: the worker (`streammon worker`) and, with another command, the
# Evidently UI over the same workspace. See docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY monitors ./monitors
COPY streams ./streams
# constraints.txt pins the exact dependency set CI tests with.
RUN pip install -c constraints.txt .

# Not root; /workspace belongs to that user, so a named volume mounted there starts
# with the same owner.
RUN useradd --create-home --uid 10001 streammon \
    && mkdir /workspace \
    && chown streammon /workspace
USER streammon
WORKDIR /home/streammon

ENV STREAMMON_WORKSPACE__PATH=/workspace
EXPOSE 8000
CMD ["streammon", "worker"]
