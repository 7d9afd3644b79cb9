package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A pipeline worker loads one batch with Load (retried safely on
// UNAVAILABLE and ABORTED) and streams a large one with a Writer.
func Example() {
	ctx := context.Background()
	c, err := client.Dial("127.0.0.1:50051", client.Options{Token: os.Getenv("LOADSVC_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	nav := &loadsvcv1.LoadConfig{Table: "demo_nav", Pk: []string{"report_date", "plan_code", "company_code"}}
	resp, err := c.Load(ctx, nav, []client.Row{
		{"report_date": "2024-11-01", "plan_code": "P001", "company_code": "C01", "nav": 1.2345},
		{"report_date": "2024-11-01", "plan_code": "P002", "company_code": "C01", "nav": 2.5, "data_source": nil},
	})
	if e, ok := client.AsError(err); ok {
		// e.Field / e.Row name a bad row; e.SQLState, e.Constraint and
		// e.Detail say what PostgreSQL refused.
		log.Fatalf("load: %v (field %s, sqlstate %s, detail %s)", e, e.Field, e.SQLState, e.Detail)
	}
	fmt.Println("deleted", resp.GetDeleted(), "inserted", resp.GetInserted())

	// A Writer streams any number of rows in one transaction.
	w, err := c.NewWriter(ctx, &loadsvcv1.LoadConfig{Table: "demo_nav", Mode: loadsvcv1.Mode_MODE_APPEND}, client.WriterOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // rolls back unless Close succeeded
	day := time.Date(2024, 11, 2, 0, 0, 0, 0, time.UTC)
	for i := range 1_000_000 {
		row := client.Row{"report_date": day, "plan_code": fmt.Sprintf("P%07d", i), "company_code": "C01", "nav": 1.0}
		if err := w.Write(row); err != nil {
			log.Fatal(err)
		}
	}
	if resp, err = w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("streamed", resp.GetInserted())
}
