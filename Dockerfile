# kestra-mcp container image: one static binary (the built-in tools are inside it) on `scratch`.
#
# Targets, in file order:
#   prebuilt  packages a static binary built on the host and staged in dist/ by docker/build.sh.
#             It is first so that the legacy builder (DOCKER_BUILDKIT=0), which builds every stage
#             before the requested target, needs no base image for it:
#               docker/build.sh            # or: docker build --target prebuilt -t kestra-mcp:dev .
#   builder   compiles the static binary from source in the official Rust image.
#   runtime   the default target (last): the same layout as `prebuilt`, binary from `builder`:
#               docker build -t kestra-mcp .
#
# Both images run as a non-root numeric user, read extra or replacement tool specs from the
# mount point /etc/kestra-mcp/tools.d, and speak MCP on stdin/stdout:
#   docker run -i --rm -e KESTRA_BASE_URL=... -v "$PWD/my-tools:/etc/kestra-mcp/tools.d:ro" kestra-mcp

# ---------------------------------------------------------------------------------------------
FROM scratch AS prebuilt
# docker/build.sh stages dist/kestra-mcp (static, x86_64-unknown-linux-gnu with +crt-static) and
# dist/ca-certificates.crt (the host's CA bundle, for https:// Kestra URLs).
COPY dist/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY docker/nsswitch.conf /etc/nsswitch.conf
COPY docker/tools.d/ /etc/kestra-mcp/tools.d/
COPY dist/kestra-mcp /kestra-mcp
# rustls-platform-verifier reads the CA bundle through rustls-native-certs, which honours
# SSL_CERT_FILE (and otherwise probes the usual paths, this one included).
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    KESTRA_MCP_TOOLS_DIR=/etc/kestra-mcp/tools.d
# The MCP registry checks this label against server.json's name; the version is Cargo.toml's
# (a test keeps every version equal).
LABEL io.modelcontextprotocol.server.name="io.github.kestra-io/kestra-mcp" \
      org.opencontainers.image.title="kestra-mcp" \
      org.opencontainers.image.version="0.1.0"
USER 65532:65532
ENTRYPOINT ["/kestra-mcp"]

# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# The whole workspace (see .dockerignore): Cargo needs every workspace member's manifest.
COPY . .
# A static glibc binary for the build machine's architecture, so that it runs on `scratch`.
# The target is named explicitly so that RUSTFLAGS do not reach build scripts and proc-macros.
RUN target="$(rustc -vV | sed -n 's/^host: //p')" \
    && RUSTFLAGS='-C target-feature=+crt-static' \
       cargo build --release --locked --target "$target" --bin kestra-mcp \
    && mkdir -p /out \
    && cp "target/$target/release/kestra-mcp" /out/kestra-mcp \
    && cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt \
    && /out/kestra-mcp tools validate

# ---------------------------------------------------------------------------------------------
FROM scratch AS runtime
COPY --from=builder /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY docker/nsswitch.conf /etc/nsswitch.conf
COPY docker/tools.d/ /etc/kestra-mcp/tools.d/
COPY --from=builder /out/kestra-mcp /kestra-mcp
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    KESTRA_MCP_TOOLS_DIR=/etc/kestra-mcp/tools.d
# The MCP registry checks this label against server.json's name; the version is Cargo.toml's
# (a test keeps every version equal).
LABEL io.modelcontextprotocol.server.name="io.github.kestra-io/kestra-mcp" \
      org.opencontainers.image.title="kestra-mcp" \
      org.opencontainers.image.version="0.1.0"
USER 65532:65532
ENTRYPOINT ["/kestra-mcp"]
