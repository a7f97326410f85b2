# One image for every CardPulse process; the command picks the role (`cardpulse up|api|worker|simulator`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cardpulse ./cardpulse
COPY streams ./streams
COPY connectors ./connectors
COPY controls ./controls
COPY api ./api
COPY store ./store
COPY dashboards ./dashboards
COPY simulators ./simulators
RUN pip install --no-cache-dir . && useradd --create-home cardpulse
USER cardpulse
ENV CARDPULSE_HOST=0.0.0.0 CARDPULSE_STATE_DIR=/home/cardpulse/state
# docker-compose runs one role per service (api, worker, controls, simulator, init).
CMD ["cardpulse", "up"]
