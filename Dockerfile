# syntax=docker/dockerfile:1
# account-gateway: a release build with the static Swift standard library, on a
# slim runtime with only what the binary loads (libpq, libcurl, zlib, CA
# certificates). Non-root, meant for a read-only root filesystem.
#
#   docker build -t account-gateway:1.4.0 .
#   docker run --read-only -e DATABASE_URL_FILE=... account-gateway:1.4.0 serve
#
# Build it where a registry is reachable (docs/OPERATIONS.md, Container image).

FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev zlib1g-dev libcurl4-openssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Fuzz ./Fuzz
COPY schema ./schema
RUN swift build -c release --product account-gateway --static-swift-stdlib \
 && install -D .build/release/account-gateway /out/bin/account-gateway \
 && cp -r schema /out/schema

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libcurl4 zlib1g ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /nonexistent --shell /usr/sbin/nologin gateway
COPY --from=build /out/ /opt/account-gateway/
WORKDIR /opt/account-gateway
ENV GATEWAY_LISTEN=0.0.0.0:8080 \
    LOG_LEVEL=info
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/opt/account-gateway/bin/account-gateway"]
CMD ["serve"]
