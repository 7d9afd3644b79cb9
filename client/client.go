package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Options configure a Client.
type Options struct {
	Token       string      // bearer token, sent as "authorization: Bearer <token>" on every RPC
	TLS         *tls.Config // nil: plaintext
	Retry       RetryPolicy // zero value: defaults
	DialOptions []grpc.DialOption
}

// MaxRecvBytes is the largest response a Client accepts by default: a
// plan's sql_script carries every row. DialOptions may change it.
const MaxRecvBytes = 64 << 20

// Client is a connection to loadsvc. It is safe for concurrent use; Close
// it when done.
type Client struct {
	conn   *grpc.ClientConn
	svc    loadsvcv1.LoadServiceClient
	health healthpb.HealthClient
	retry  RetryPolicy
}

// Dial returns a Client of the service at addr (host:port, or any gRPC
// target). It does not wait for the connection: the first RPC makes it, and
// Load retries while the service is unreachable. opts.DialOptions come
// after the client's own, so they win.
func Dial(addr string, opts Options) (*Client, error) {
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxRecvBytes)),
	}
	if opts.Token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer(opts.Token)))
	}
	conn, err := grpc.NewClient(addr, append(dopts, opts.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("loadsvc client: dial %s: %w", addr, err)
	}
	return &Client{
		conn:   conn,
		svc:    loadsvcv1.NewLoadServiceClient(conn),
		health: healthpb.NewHealthClient(conn),
		retry:  opts.Retry.withDefaults(),
	}, nil
}

// Close closes the connection; RPCs in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// Service is the raw stub, for what the helpers do not cover. AsError reads
// its errors too.
func (c *Client) Service() loadsvcv1.LoadServiceClient { return c.svc }

// Conn is the underlying gRPC connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Health checks grpc.health.v1 for the server ("") and for
// loadsvc.v1.LoadService, which is SERVING while the service's database is
// reachable. It returns nil when both are SERVING, else an *Error
// (UNAVAILABLE for a service that answers NOT_SERVING).
func (c *Client) Health(ctx context.Context) error {
	for _, svc := range []string{"", loadsvcv1.LoadService_ServiceDesc.ServiceName} {
		resp, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			return toError(err)
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			name := "the server"
			if svc != "" {
				name = svc
			}
			return &Error{Code: codes.Unavailable, Message: fmt.Sprintf("health check: %s is %s", name, st), Row: -1}
		}
	}
	return nil
}

// Load sends rows in one Load request in the typed form and retries with
// backoff on UNAVAILABLE and ABORTED only (never INVALID_ARGUMENT and
// friends). If cfg.RequestId is empty it sets a random one first (on a
// copy: cfg is not changed), so a retry after a connection lost during
// COMMIT cannot write twice; a retry the service recognizes answers with
// replayed set. The request is bounded by the service's --max-rows; use a
// Writer for more. With cfg.DryRun the load runs and is rolled back: the
// response has the real counts and DryRun set, and nothing is written.
// Errors are *Error; a load refused for its rows has every bad row in
// Error.RowErrors. With cfg.MaxRejectedRows the bad rows (up to that many)
// are left out and the response lists them in Rejected.
func (c *Client) Load(ctx context.Context, cfg *loadsvcv1.LoadConfig, rows []Row) (*loadsvcv1.LoadResponse, error) {
	req, err := loadRequest(cfg, rows)
	if err != nil {
		return nil, err
	}
	resp, err := retried(ctx, c, c.svc.Load, req)
	if err != nil {
		return nil, err
	}
	return resp, checkResponse(cfg, resp)
}

// checkResponse is an error when the response shows that the service
// ignored a setting that guards what a load writes, as a service that
// predates it does: a dry run that COMMITTED, a delete beyond
// max_deleted_rows, a stamp_column with no load_id to stamp.
func checkResponse(cfg *loadsvcv1.LoadConfig, resp *loadsvcv1.LoadResponse) error {
	ignored := ""
	switch {
	case cfg.GetDryRun() && !resp.GetDryRun():
		ignored = "dry runs: it ignored dry_run"
	case cfg.GetMaxDeletedRows() > 0 && resp.GetDeleted() > cfg.GetMaxDeletedRows():
		ignored = fmt.Sprintf("max_deleted_rows: it ignored the limit of %d", cfg.GetMaxDeletedRows())
	case cfg.GetStampColumn() != "" && !cfg.GetPlanOnly() && !resp.GetDryRun() && !resp.GetReplayed() && resp.GetLoadId() == "":
		ignored = fmt.Sprintf("stamp_column: it ignored stamp_column %q", cfg.GetStampColumn())
	default:
		return nil
	}
	return &Error{Code: codes.FailedPrecondition, Row: -1, Message: fmt.Sprintf(
		"the service does not support %s and COMMITTED the load (%d rows deleted, %d inserted, %d updated)",
		ignored, resp.GetDeleted(), resp.GetInserted(), resp.GetUpdated())}
}

// loadRequest encodes rows as one typed request whose config has a
// request id.
func loadRequest(cfg *loadsvcv1.LoadConfig, rows []Row) (*loadsvcv1.LoadRequest, error) {
	msg, err := typedRows(rows)
	if err != nil {
		return nil, err
	}
	return &loadsvcv1.LoadRequest{Config: withRequestID(cfg), TypedRows: msg}, nil
}

// withRequestID is cfg, or a copy of it with a new request id when it has
// none.
func withRequestID(cfg *loadsvcv1.LoadConfig) *loadsvcv1.LoadConfig {
	if cfg.GetRequestId() != "" {
		return cfg
	}
	if cfg == nil {
		return &loadsvcv1.LoadConfig{RequestId: NewRequestID()}
	}
	cfg = proto.CloneOf(cfg)
	cfg.RequestId = NewRequestID()
	return cfg
}

// NewRequestID returns a random request id (a UUID version 4), for a load
// whose retries should share one id across processes or streams.
func NewRequestID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// bearer sends "authorization: Bearer <token>" on every RPC. It does not
// require TLS: inside a cluster, plaintext with a token is a deliberate
// choice of Options.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (b bearer) RequireTransportSecurity() bool { return false }
