# The `natsbridge` CLI as a container image, for a team's CI (docs/releasing.md):
#
#   docker build -f docker/natsbridge-cli.Dockerfile -t natsbridge:0.1.0 --build-arg NATSBRIDGE_VERSION=0.1.0 docker/
#   docker run --rm -v "$PWD:/work" -w /work natsbridge:0.1.0 diff --spec asyncapi.yaml --against last-release/asyncapi.yaml
#
# The builder installs the CLI by name from crates.io, exactly as `cargo install natsbridge-cli`
# does for a user (`--locked`: the dependency versions the release was tested with); the
# image ships the binary alone on Debian slim. `natsbridge codegen` formats generated Rust
# with rustfmt: the `codegen` target below adds it (the Rust toolchain image, larger).
#
# Not built by the test suite yet: no container daemon answers on the machine it runs on
# (see docs/releasing.md).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
ARG NATSBRIDGE_VERSION
RUN cargo install natsbridge-cli --locked ${NATSBRIDGE_VERSION:+--version "$NATSBRIDGE_VERSION"} --root /opt/natsbridge \
    && /opt/natsbridge/bin/natsbridge --version

# `docker build --target codegen`: the CLI with rustfmt, for `natsbridge codegen` of Rust.
FROM rust:${RUST_VERSION}-slim-bookworm AS codegen
# git: `natsbridge diff --against <git ref>` reads the older document from git.
RUN rustup component add rustfmt \
    && apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/natsbridge/bin/natsbridge /usr/local/bin/natsbridge
RUN useradd --create-home --uid 10001 natsbridge
USER natsbridge
ENTRYPOINT ["natsbridge"]

# The default image: the CLI alone (diff, validate, conformance, send/receive, fileserver, and
# codegen of TypeScript, Python and Julia), with git for `natsbridge diff --against <git ref>`.
FROM debian:bookworm-slim AS cli
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 natsbridge
COPY --from=builder /opt/natsbridge/bin/natsbridge /usr/local/bin/natsbridge
USER natsbridge
ENTRYPOINT ["natsbridge"]
