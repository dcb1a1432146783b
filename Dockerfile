# slotmq broker image, built from this repository:
#   docker build -t slotmq .
#   docker run --rm -p 1883:1883 -p 8083:8083 -p 8888:8888 slotmq
# Settings come from SLOTMQ_* environment variables (docs/configuration.md).
# Runtime: Node 24 LTS, pinned by exact version (slotmq needs Node 22 or newer; it still
# runs on 20, which is past its end of life).

FROM node:24.19.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are skipped: slotmq has none, and the build below runs once the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY types types
COPY src src
RUN npm run build

FROM node:24.19.0-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin bin
COPY lua lua
COPY config config
COPY --from=build /app/dist dist
USER node
# MQTT over TCP, MQTT over WebSocket (/mqtt), HTTP (/health, /ready, /metrics)
EXPOSE 1883 8083 8888
# Healthy when GET /ready answers 200 on the HTTP port: listeners bound, not shutting down
# and, on Redis, Redis reachable, lease held, inbox answering. With SLOTMQ_HTTP_PORT=off
# there is no HTTP listener: override the check (docker run --no-healthcheck).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SLOTMQ_HTTP_PORT || 8888) + '/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) shuts the node down gracefully: clients closed, sessions handed over.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/slotmq.js"]
CMD ["start"]
