package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

const healthUsage = `Usage: loadctl health [flags]

Asks the service's grpc.health.v1 service about the server ("") and about
loadsvc.v1.LoadService, which is SERVING while the service's database is
reachable, and prints each status.

Exit status: 0 both SERVING, 1 otherwise, 2 usage error.
`

// healthOptions are the flags of "loadctl health".
type healthOptions struct {
	conn    connOptions
	timeout time.Duration
}

func newHealthFlags(o *healthOptions) *flag.FlagSet {
	fs := newFlagSet("health")
	o.conn.register(fs)
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "give up after this long")
	return fs
}

// healthServices are the services checked, "" being the server itself.
var healthServices = []string{"", loadsvcv1.LoadService_ServiceDesc.ServiceName}

func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o healthOptions
	fs := newHealthFlags(&o)
	fail := func(err error) int { return fail(err, "health", fs, healthUsage, stdout, stderr) }
	pos, err := parseArgs(fs, args)
	if err != nil {
		return fail(err)
	}
	if len(pos) > 0 {
		return fail(usageErrorf("no arguments expected, got %q", pos))
	}
	c, ctx, done, err := o.conn.dialWithin(ctx, o.timeout)
	if err != nil {
		return fail(err)
	}
	defer done()
	statuses, err := checkHealth(ctx, c)
	if err != nil {
		return fail(err)
	}
	code, err := printHealth(stdout, statuses)
	if err != nil {
		return fail(err)
	}
	return code
}

// checkHealth asks for each service's status; a service the server does not
// know is SERVICE_UNKNOWN, any other failure is an error.
func checkHealth(ctx context.Context, c *client.Client) ([]healthpb.HealthCheckResponse_ServingStatus, error) {
	hc := healthpb.NewHealthClient(c.Conn())
	out := make([]healthpb.HealthCheckResponse_ServingStatus, len(healthServices))
	for i, svc := range healthServices {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		switch {
		case status.Code(err) == codes.NotFound:
			out[i] = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		case err != nil:
			return nil, err
		default:
			out[i] = resp.GetStatus()
		}
	}
	return out, nil
}

// printHealth writes each service's status to w and returns the exit code
// they make, or the error of writing them.
func printHealth(w io.Writer, statuses []healthpb.HealthCheckResponse_ServingStatus) (int, error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	code := exitOK
	for i, st := range statuses {
		fmt.Fprintf(tw, "%q\t%s\n", healthServices[i], st)
		if st != healthpb.HealthCheckResponse_SERVING {
			code = exitFailure
		}
	}
	return code, tw.Flush()
}
