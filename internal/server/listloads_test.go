package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// listAll pages through ListLoads with req, page by page, and returns the
// load ids in the order listed and the number of pages.
func listAll(t *testing.T, b *bundle, req *loadsvcv1.ListLoadsRequest) (ids []string, pages int) {
	t.Helper()
	for {
		resp, err := b.client.ListLoads(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range resp.Loads {
			ids = append(ids, r.LoadId)
		}
		if resp.NextPageToken == "" {
			return ids, pages
		}
		if pages > 100 {
			t.Fatal("ListLoads pages without end")
		}
		req.PageToken = resp.NextPageToken
	}
}

// ListLoads pages through the history newest first, each record once, by
// its filters; its record says what the load was; a malformed request is
// INVALID_ARGUMENT naming its field.
func TestListLoads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text)`)
	var all, onB, failed []string // newest first
	var middle time.Time
	for i := range 25 {
		table, mode := "a", loadsvcv1.Mode_MODE_APPEND
		if i%5 == 0 {
			table, mode = "b", loadsvcv1.Mode_MODE_UPSERT
		}
		if i == 12 {
			middle = time.Now()
		}
		cfg := &loadsvcv1.LoadConfig{Table: table, Mode: mode, Pk: []string{"id"}, Labels: map[string]string{"source": "f" + itoa(i) + ".csv"}}
		resp, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: seqRows(t, i%3, 2)})
		id := ""
		if err != nil {
			id = failedLoadID(t, err)
			failed = append([]string{id}, failed...)
		} else {
			id = resp.LoadId
		}
		all = append([]string{id}, all...)
		if table == "b" {
			onB = append([]string{id}, onB...)
		}
	}
	if len(failed) == 0 {
		t.Fatal("no load failed: the status filter is not tested")
	}
	ids, pages := listAll(t, b, &loadsvcv1.ListLoadsRequest{PageSize: 7})
	if !slices.Equal(ids, all) || pages != 4 {
		t.Errorf("pages of 7: %d pages listing\n%v\nwant 4 listing\n%v", pages, ids, all)
	}
	if ids, _ := listAll(t, b, &loadsvcv1.ListLoadsRequest{}); !slices.Equal(ids, all) {
		t.Errorf("the default page: %v", ids)
	}
	if ids, _ := listAll(t, b, &loadsvcv1.ListLoadsRequest{Table: "b", PageSize: 2}); !slices.Equal(ids, onB) {
		t.Errorf("table b: %v, want %v", ids, onB)
	}
	if ids, _ := listAll(t, b, &loadsvcv1.ListLoadsRequest{Status: "failed", PageSize: 1000}); !slices.Equal(ids, failed) {
		t.Errorf("failed: %v, want %v", ids, failed)
	}
	since, _ := listAll(t, b, &loadsvcv1.ListLoadsRequest{Since: timestamppb.New(middle), PageSize: 5000})
	until, _ := listAll(t, b, &loadsvcv1.ListLoadsRequest{Until: timestamppb.New(middle)})
	if !slices.Equal(append(since, until...), all) || len(since) != 13 {
		t.Errorf("since %v: %d loads, until: %d loads; want 13 and 12", middle, len(since), len(until))
	}

	resp, err := b.client.ListLoads(context.Background(), &loadsvcv1.ListLoadsRequest{Schema: "public", Table: "b", PageSize: 1})
	if err != nil || len(resp.Loads) != 1 {
		t.Fatalf("%v %v", resp, err)
	}
	r := resp.Loads[0]
	if r.LoadId != onB[0] || r.Status != "committed" || r.Code != "OK" || r.Schema != "public" || r.Table != "b" || r.Mode != loadsvcv1.Mode_MODE_UPSERT ||
		r.Inserted+r.Updated != 2 || r.Rows != 2 || r.Labels["source"] != "f20.csv" || r.Peer == "" ||
		r.FinishedAt.AsTime().Before(r.StartedAt.AsTime()) || r.Duration.AsDuration() < 0 {
		t.Errorf("the newest load of b is recorded as %v", r)
	}

	for field, req := range map[string]*loadsvcv1.ListLoadsRequest{
		"page_token": {PageToken: "bm90LWEtdG9rZW4"},
		"page_size":  {PageSize: -1},
		"status":     {Status: "done"},
	} {
		_, err := b.client.ListLoads(context.Background(), req)
		st := wantCode(t, err, codes.InvalidArgument, "")
		if got := badRequestField(t, st); got != field || !strings.Contains(st.Message(), field) {
			t.Errorf("%v: field %s, message %q; want %s named", req, got, st.Message(), field)
		}
	}
}

// ListLoads without a database is UNAVAILABLE, as a load is.
func TestListLoadsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	_, err := b.client.ListLoads(context.Background(), &loadsvcv1.ListLoadsRequest{})
	wantCode(t, err, codes.Unavailable, "database connection failed: ")
}

// Labels are checked before any connection, and recorded.
func TestLabels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	many := map[string]string{}
	for i := range 17 {
		many["k"+itoa(i)] = "v"
	}
	for name, c := range map[string]struct {
		labels     map[string]string
		field, msg string
	}{
		"too many":   {many, "config.labels", "17 labels; at most 16"},
		"bad key":    {map[string]string{"ok": "1", "Source File": "x"}, `config.labels["Source File"]`, `label key "Source File"`},
		"long key":   {map[string]string{strings.Repeat("k", 64): "x"}, "config.labels", "is not 1 to 63"},
		"long value": {map[string]string{"source": strings.Repeat("é", 129)}, `config.labels["source"]`, "value of 258 bytes; at most 256"},
	} {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, Labels: c.labels}, Rows: seqRows(t, 1, 1)})
		st := wantCode(t, err, codes.InvalidArgument, "")
		if f := badRequestField(t, st); !strings.HasPrefix(f, c.field) || !strings.Contains(st.Message(), c.msg) {
			t.Errorf("%s: field %s, message %q; want %s, %q", name, f, st.Message(), c.field, c.msg)
		}
	}
	labels := map[string]string{"source": "规模明细 2024-11.xlsx!Sheet1", "run-id": "r-42", "host.name": ""}
	resp, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, Labels: labels}, Rows: seqRows(t, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.Texts(t, b.admin, `SELECT labels::text FROM loadsvc.load_history WHERE load_id = '`+resp.LoadId+`'`)
	if want := `{"run-id": "r-42", "source": "规模明细 2024-11.xlsx!Sheet1", "host.name": ""}`; len(got) != 1 || got[0] != want {
		t.Errorf("labels recorded as %v, want %s", got, want)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc.load_history`); n != 1 {
		t.Errorf("%d records; the refused loads are not recorded", n)
	}
}
