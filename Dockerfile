# syntax=docker/dockerfile:1
# Static brokerd, brokerctl, sandbox-init and egressd on a small non-root runtime image.
#   docker build -t secretsbroker .

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ ./cmd/brokerd ./cmd/brokerctl ./cmd/sandbox-init ./cmd/egressd

# Alpine rather than distroless: the example sandbox and the compose healthchecks need a shell.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 10001 broker \
 && adduser -S -D -H -u 10001 -G broker -s /sbin/nologin broker \
 && install -d -o broker -g broker -m 0700 /var/lib/broker
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
EXPOSE 8080
ENV BROKER_LISTEN_ADDR=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/brokerd"]
CMD ["serve"]
