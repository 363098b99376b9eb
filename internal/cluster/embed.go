//go:build embednats

package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Embedded reports whether this binary has the embedded NATS server.
const Embedded = true

type embeddedServer interface {
	ClientURL() string
	InProcess() nats.Option
	Shutdown()
}

type natsServer struct{ s *server.Server }

func (n natsServer) ClientURL() string      { return n.s.ClientURL() }
func (n natsServer) InProcess() nats.Option { return nats.InProcessServer(n.s) }
func (n natsServer) Shutdown() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

// startEmbedded runs the node's own nats-server: clients at cfg.Listen,
// routes at cfg.RouteListen to cfg.Routes, the token and TLS of cfg.
func startEmbedded(cfg *Config, maxMessage int, log *slog.Logger) (embeddedServer, error) {
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, err
	}
	o := &server.Options{
		ServerName: cfg.Node, Host: host, Port: port,
		NoSigs: true, NoLog: true, DisableShortFirstPing: true,
		MaxPayload:    int32(maxMessage + 1<<20), // a bus message and its headers fit; blobs are chunked
		MaxPending:    64 << 20,
		WriteDeadline: 10 * time.Second,
	}
	if cfg.TokenFile != "" {
		tok, err := readSecret(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		o.Authorization = tok
	}
	if cfg.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: cfg.TLSCA != ""})
		if err != nil {
			return nil, fmt.Errorf("cluster: tls: %w", err)
		}
		o.TLSConfig, o.TLS, o.TLSVerify = tc, true, cfg.TLSCA != ""
	}
	if cfg.RouteListen != "" || len(cfg.Routes) > 0 {
		rl := cfg.RouteListen
		if rl == "" {
			rl = "127.0.0.1:0"
		}
		rh, rp, err := splitHostPort(rl)
		if err != nil {
			return nil, err
		}
		o.Cluster = server.ClusterOpts{Name: cfg.Name, Host: rh, Port: rp, NoAdvertise: true}
		if cfg.TokenFile != "" {
			o.Cluster.Username, o.Cluster.Password = "orbital", o.Authorization
		}
		if cfg.TLSCert != "" {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: cfg.TLSCA != ""})
			if err != nil {
				return nil, fmt.Errorf("cluster: route tls: %w", err)
			}
			// A route is dialled too: the cluster's CA verifies the
			// other server as well as the other server's client side.
			tc.RootCAs = tc.ClientCAs
			o.Cluster.TLSConfig = tc
			o.Cluster.TLSTimeout = 5
		}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("cluster: route %q: want nats://host:port", r)
			}
			if cfg.TokenFile != "" && u.User == nil {
				u.User = url.UserPassword("orbital", o.Authorization)
			}
			o.Routes = append(o.Routes, u)
		}
	}
	s, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("cluster: the embedded NATS server did not start on %s", cfg.Listen)
	}
	log.Info("embedded NATS server", "clients", s.ClientURL(), "routes", o.Cluster.Port, "server", server.VERSION)
	return natsServer{s}, nil
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: address %q: %w", a, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("cluster: address %q: bad port", a)
	}
	if n == 0 {
		n = server.RANDOM_PORT
	}
	return h, n, nil
}
