# Build: docker build -t plugin-server .
# Run:   docker run -p 6738:6738 -e DATABASE_URL=postgresql://... -e PLUGIN_SERVER_HTTP_ADMIN_TOKEN=... plugin-server
#        (without the token, /apps and /admin/* answer 403)
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config libboost-dev libssl-dev librdkafka-dev libpqxx-dev \
      libspdlog-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libnode-dev zlib1g-dev libhiredis-dev libmaxminddb-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The JavaScript built into the binary (runtime/js) comes from npm at build time.
RUN cd runtime/js && npm ci --no-audit --no-fund
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPLUGIN_SERVER_TESTS=OFF \
 && cmake --build build -j "$(nproc)" --target plugin-server

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libnode108 librdkafka++1 libpqxx-6.4 libspdlog1.10 libtomlplusplus3 libhiredis0.14 libmaxminddb0 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin plugin-server
COPY --from=build /src/build/bin/plugin-server /usr/local/bin/plugin-server
COPY deploy/plugin-server.toml /app/deploy/plugin-server.toml
COPY examples /app/examples
WORKDIR /app
USER plugin-server
ENV PLUGIN_SERVER_HTTP_LISTEN=0.0.0.0:6738
EXPOSE 6738
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:6738/_health || exit 1
ENTRYPOINT ["/usr/local/bin/plugin-server"]
CMD ["run", "--config", "/app/deploy/plugin-server.toml"]
