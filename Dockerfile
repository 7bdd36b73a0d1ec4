# orgauth's container image (docs/deploy.md): a Rust builder stage and a runtime stage with
# nothing but the binary, glibc and CA certificates: no shell, a non-root user, the SQLite data
# directory as a volume, and a health check the binary runs itself (`orgauth healthcheck`).
#
#   docker build -t orgauth .          podman build --format docker -t orgauth .
#
# The base images are arguments so that CI, which cannot pull public images, builds the same
# runtime stage on a base it makes from Debian's packages, with the builder stage replaced by a
# directory holding the binary it built (`--build-context builder=DIR`; deploy/container/check.sh).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
# The registry and target directory are cache mounts: a rebuild after a source change compiles
# the workspace's crates, not its few hundred dependencies. The binary is copied out of the
# mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p orgauth \
 && install -D -m 0755 target/release/orgauth /out/usr/local/bin/orgauth \
 && install -d /out/data

FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=builder /out/usr/local/bin/orgauth /usr/local/bin/orgauth
# The SQLite database's directory, owned by the user the server runs as; a named volume mounted
# here starts as a copy of it (a bind mount must be writable by uid 65532).
COPY --from=builder --chown=65532:65532 /out/data /data
# distroless's `nonroot`; numeric, so it holds on bases without that name in /etc/passwd.
USER 65532:65532
WORKDIR /data
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=sqlite:///data/orgauth.db?mode=rwc
VOLUME ["/data"]
EXPOSE 3000
# SIGTERM starts the graceful stop: in-flight requests get ORGAUTH_SHUTDOWN_TIMEOUT (30 s) to
# finish, so give `docker stop` more than that (`--time 35`, compose's stop_grace_period).
STOPSIGNAL SIGTERM
# /readyz: 200 when the database answers. Podman keeps this only with `--format docker`.
HEALTHCHECK --interval=30s --timeout=20s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/orgauth", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/orgauth"]
CMD ["serve"]
