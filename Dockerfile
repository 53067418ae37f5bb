# Build: docker build -t taxii-hub .
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin taxii-hub

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/taxii-hub taxii-hub \
    && mkdir -p /var/lib/taxii-hub/tls /etc/taxii-hub \
    && chown -R taxii-hub /var/lib/taxii-hub
COPY --from=build /src/target/release/taxii-hub /usr/local/bin/taxii-hub
COPY config/hub.example.toml /etc/taxii-hub/hub.toml
USER taxii-hub
VOLUME /var/lib/taxii-hub
EXPOSE 8443
HEALTHCHECK CMD ["/usr/local/bin/taxii-hub", "--version"]
ENTRYPOINT ["/usr/local/bin/taxii-hub"]
CMD ["serve", "--config", "/etc/taxii-hub/hub.toml", "--self-signed-if-missing"]
