# syntax=docker/dockerfile:1
# The container image: a static (musl) minimax-mock in an empty image.
#
#   docker build -t minimax-mock .
#   docker run --rm -p 8080:8080 -e MINIMAX_MOCK_CONTROL_TOKEN=change-me minimax-mock
#
# It listens on 0.0.0.0:8080; off loopback the control API needs
# `Authorization: Bearer $MINIMAX_MOCK_CONTROL_TOKEN` (one is made up and
# printed if none is set). GET /__mock/live answers without it: the health
# check below, and what Testcontainers and Kubernetes probes should ask.
# docker/check-static.sh proves the binary this builds runs from an empty
# root (no image can be built where the project is tested). Recipes:
# docs/install.md.

# Alpine's Rust targets musl, which links statically by default.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY schemas schemas
COPY fixtures fixtures
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin minimax-mock \
    && cp target/release/minimax-mock /minimax-mock
# Nothing to load at run time: no interpreter, no shared library.
RUN /minimax-mock --version && ! readelf -l /minimax-mock | grep -q INTERP

FROM scratch
COPY --from=build /minimax-mock /minimax-mock
COPY LICENSE-MIT LICENSE-APACHE /licenses/
# nobody: the server needs no privilege (mount a writable volume for --state).
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/minimax-mock"]
# Download links name --public-url: the address clients reach the container at.
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--public-url", "http://localhost:8080"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=1s --retries=3 CMD ["/minimax-mock", "probe"]
