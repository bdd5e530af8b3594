# indus as a container image: build in the Rust image, run in a slim
# Debian one as a non-root user. The runs root is a volume; the server
# listens on 0.0.0.0:8080 and reports healthy once `/ready` answers.
#
#   podman build -t indus .        (or docker build)
#   podman run -p 8080:8080 -v ./runs:/var/lib/indus/runs indus
#   podman run -p 8080:8080 -v ./runs/credit-scoring/<run-id>:/mnt/models:ro indus serve --run /mnt/models
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --locked \
 && deploy/layout.sh /out target/release

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/indus --shell /usr/sbin/nologin indus
COPY --from=build --chown=10001:10001 /out/ /
USER 10001
WORKDIR /var/lib/indus
ENV INDUS_HOST=0.0.0.0 \
    INDUS_PORT=8080 \
    INDUS_RUNS_DIR=/var/lib/indus/runs \
    INDUS_OFFLINE=1
VOLUME ["/var/lib/indus/runs"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD curl -fsS http://127.0.0.1:8080/ready || exit 1
ENTRYPOINT ["/opt/indus/bin/indus"]
CMD ["serve", "--root", "/opt/indus"]
