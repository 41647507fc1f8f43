# Janus, the booth's media server (SFU with recording), from Debian's package as `pingbiao stack`
# runs it natively: the VideoRoom plugin and the HTTP API on 8088 (Debian's default config).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends janus && rm -rf /var/lib/apt/lists/*
EXPOSE 8088
CMD ["janus", "--rtp-port-range=20000-20100", "--disable-colors"]
