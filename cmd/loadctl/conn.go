package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/loadsvc/loadsvc/client"
)

const defaultAddr = "127.0.0.1:50051"

// maxMessage bounds the messages loadctl sends and receives: a plan of
// --max-plan-rows rows, and the script it comes back with, are big.
const maxMessage = 1 << 30

// connOptions are the flags every command shares to reach the service.
type connOptions struct {
	addr   string
	token  string
	tls    bool
	caFile string
}

func (c *connOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "", "service address HOST:PORT (default $LOADSVC_ADDR, else "+defaultAddr+")")
	fs.StringVar(&c.token, "token", "", "bearer token sent with every call (default $LOADSVC_TOKEN)")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS, trusting the system's certificate authorities")
	fs.StringVar(&c.caFile, "ca-file", "", "connect with TLS, trusting the certificate authorities in this PEM `file`")
}

// resolve fills what the flags left empty from the environment.
func (c *connOptions) resolve() {
	if c.addr == "" {
		c.addr = envOr("LOADSVC_ADDR", defaultAddr)
	}
	if c.token == "" {
		c.token = os.Getenv("LOADSVC_TOKEN")
	}
}

// tlsConfig is nil for a plaintext connection.
func (c *connOptions) tlsConfig() (*tls.Config, error) {
	if !c.tls && c.caFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", c.caFile)
	}
	return cfg, nil
}

// dialWithin resolves the flags, dials the service and bounds ctx by
// timeout: the client, the context and what releases both.
func (c *connOptions) dialWithin(ctx context.Context, timeout time.Duration) (*client.Client, context.Context, func(), error) {
	c.resolve()
	cl, err := c.dial()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return cl, ctx, func() { cancel(); cl.Close() }, nil
}

// dial returns a client of the service; it connects lazily, on first use.
func (c *connOptions) dial() (*client.Client, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	return client.Dial(c.addr, client.Options{
		Token: c.token,
		TLS:   tc,
		DialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage))},
	})
}
