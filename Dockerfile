# Build: the whole service is one static-ish binary (bundled SQLite, pure-Rust
# PostgreSQL driver, rustls): no libpq, no OpenSSL in the image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs clippy.toml ./
# The bundled SQLite's build flags (no global memory statistics): without
# them the image is measurably slower than the README's figures.
COPY .cargo .cargo
COPY src src
COPY templates templates
COPY static static
COPY locales locales
COPY migrations migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data sowat \
 && mkdir -p /data && chown sowat /data
COPY --from=build /src/target/release/sowat-admin /usr/local/bin/sowat-admin
USER sowat
WORKDIR /data
ENV SOWAT_LISTEN=0.0.0.0:8080 \
    SOWAT_DATA_DIR=/data \
    SOWAT_DATABASE_URL=sqlite:///data/sowat-admin.db \
    SOWAT_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/sowat-admin"]
CMD ["serve"]
