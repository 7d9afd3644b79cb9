package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Four workers append their parts of one load to a session, each as a
// writer of its own; one commit applies them all in one transaction. A
// worker that restarts attaches to the session and skips the rows the
// service already stored.
func ExampleClient_BeginLoad() {
	ctx := context.Background()
	c, err := client.Dial("127.0.0.1:50051", client.Options{Token: os.Getenv("LOADSVC_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	s, err := c.BeginLoad(ctx, &loadsvcv1.LoadConfig{Table: "demo_nav", Mode: loadsvcv1.Mode_MODE_APPEND}, client.WithTTL(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for part := range errs {
		wg.Go(func() { errs[part] = appendPart(ctx, c, s.ID(), part) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = s.Abort(ctx) // nothing of the session is written
		log.Fatal(err)
	}
	resp, err := s.Commit(ctx) // retried safely: a commit is applied once
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inserted", resp.GetInserted())
}

// appendPart is one worker, in this process or another: it attaches to
// the session (so that, restarted, it resumes after its stored rows) and
// appends its rows in batches.
func appendPart(ctx context.Context, c *client.Client, id string, part int) error {
	s, err := c.Attach(ctx, id)
	if err != nil {
		return err
	}
	writer := fmt.Sprintf("part-%d", part)
	const rows, batch = 100_000, 5_000
	for start := s.NextOffset(writer); start < rows; start += batch {
		b := make([]client.Row, 0, batch)
		for i := start; i < min(start+batch, rows); i++ {
			b = append(b, client.Row{"report_date": "2024-11-01", "plan_code": fmt.Sprintf("P%d-%07d", part, i), "company_code": "C01", "nav": 1.0})
		}
		if _, err := s.Append(ctx, writer, b); err != nil {
			return err
		}
	}
	return nil
}
