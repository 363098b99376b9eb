package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/orbitalfoundation/orbital"
)

// testCA writes a CA and a loopback server certificate signed by it to dir.
func testCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", kb)
}

// TestJoinNeedsCredentials: a NATS server that demands a token or TLS
// refuses a node without them, with a clear error, and takes it with them.
func TestJoinNeedsCredentials(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := testCA(t, dir)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile, CaFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		Authorization: "s3cret-token-for-the-test", TLS: true, TLSConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer s.Shutdown()
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("s3cret-token-for-the-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("guess"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(ctx)
	for _, tc := range []struct {
		name      string
		cfg       Config
		wantError string
	}{
		{"no TLS trust", Config{TokenFile: tok}, "certificate"},
		{"wrong token", Config{TokenFile: wrong, TLSCA: caFile}, "uthorization"},
		{"no token", Config{TLSCA: caFile}, "uthorization"},
		{"token and TLS", Config{TokenFile: tok, TLSCA: caFile}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Node, cfg.Name, cfg.URL = "n", "t", url
			c, err := Start(ctx, k, fakeHost{"n"}, cfg, nil, Options{})
			if tc.wantError == "" {
				if err != nil {
					t.Fatal(err)
				}
				if st := c.Stats(); !st.Connected {
					t.Fatalf("not connected: %+v", st)
				}
				_ = c.Close(ctx)
				return
			}
			if err == nil {
				_ = c.Close(ctx)
				t.Fatal("joined without the right credentials")
			}
			if !strings.Contains(err.Error(), tc.wantError) || !strings.Contains(err.Error(), "join") {
				t.Fatalf("error %q does not say %q", err, tc.wantError)
			}
		})
	}
}
