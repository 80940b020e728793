# Multi-stage build: compile with the Rust toolchain, ship a slim Debian image with the binary.
FROM rust:1-bookworm AS build
# etcd-client generates its gRPC code with protoc.
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY vendor ./vendor
COPY src ./src
COPY benches ./benches
COPY config ./config
RUN cargo build --release --bin vane

FROM debian:bookworm-slim
COPY --from=build /src/target/release/vane /usr/local/bin/vane
COPY config/vane.toml /etc/vane/vane.toml
# 80: traffic; 8081: the load balancer's health check.
EXPOSE 80 8081
# SIGTERM drains (health 503, finish in-flight requests); docker stop sends it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/vane"]
CMD ["--config", "/etc/vane/vane.toml"]
