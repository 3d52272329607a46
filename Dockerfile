# The gateway as a container: a release build on Debian, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin crht-gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/crht crht \
    && mkdir -p /var/lib/crht && chown crht /var/lib/crht
COPY --from=build /src/target/release/crht-gateway /usr/local/bin/crht-gateway
USER crht
WORKDIR /var/lib/crht
EXPOSE 8080
ENTRYPOINT ["crht-gateway"]
CMD ["serve"]
