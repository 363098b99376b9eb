//go:build !embednats

package cluster

import (
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// Embedded reports whether this binary has the embedded NATS server.
const Embedded = false

type embeddedServer interface {
	ClientURL() string
	InProcess() nats.Option
	Shutdown()
}

// ErrNoEmbedded: the device binary has no NATS server in it, to stay small.
var ErrNoEmbedded = errors.New("this orbital binary has no embedded NATS server (the device build stays small): " +
	"set url in [cluster] (or --cluster-url) to join a NATS server, or run bin/orbital-server, built with -tags embednats")

func startEmbedded(*Config, int, *slog.Logger) (embeddedServer, error) { return nil, ErrNoEmbedded }
