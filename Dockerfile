# slotmq broker image, built from this repository:
#   docker build -t slotmq .
#   docker run --rm -p 1883:1883 -p 8083:8083 -p 8888:8888 slotmq
# Settings come from SLOTMQ_* environment variables (README, Configuration).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are skipped here because `prepare` builds, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY types types
COPY src src
RUN npm run build

FROM node:20-bookworm-slim
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
# SIGTERM (docker stop) shuts the node down gracefully: clients closed, sessions handed over.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/slotmq.js"]
CMD ["start"]
