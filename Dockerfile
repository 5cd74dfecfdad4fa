FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
RUN pip install --upgrade pip && pip install .

COPY . .
# collectstatic reads the production settings, which insist on their secrets: give it
# throwaway values that never reach the running container.
RUN DEBUG=False SECRET_KEY=collectstatic-only XERO_CLIENT_ID=build TOKEN_ENCRYPTION_KEY=build \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 portal && chown -R portal /app
USER portal
EXPOSE 8000
CMD ["gunicorn", "gapportal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
