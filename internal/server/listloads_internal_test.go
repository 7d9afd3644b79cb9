package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// fakeHistory holds records newest first and counts its queries.
type fakeHistory struct {
	recs    []loader.Record
	queries int
}

func (h *fakeHistory) ListLoads(_ context.Context, q loader.HistoryQuery) ([]loader.Record, error) {
	h.queries++
	i := 0
	if q.After != nil {
		for i < len(h.recs) && h.recs[i].LoadID != q.After.LoadID {
			i++
		}
		i++
	}
	return h.recs[min(i, len(h.recs)):min(i+q.Limit, len(h.recs))], nil
}

// A page of one record that the caller may see only past thousands it may
// not reads them in few queries, asks the allowlist once per table, and
// still ends at maxScanned with a token that goes on.
func TestListLoadsFilteredScanCost(t *testing.T) {
	h := &fakeHistory{}
	start := time.Unix(1_700_000_000, 0)
	for i := range maxScanned + 5 {
		table := "hidden"
		if i == maxScanned+2 {
			table = "seen"
		}
		h.recs = append(h.recs, loader.Record{LoadID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Table: table,
			StartedAt: start.Add(-time.Duration(i) * time.Second)})
	}
	allows := 0
	s := New(nil, Options{History: h, Principal: func(context.Context) string { return "p" },
		Allow: func(_ context.Context, schema, table string) (string, error) {
			allows++
			if table != "seen" {
				return "", errors.New("refused")
			}
			return schema, nil
		}})
	ctx := context.Background()
	resp, err := s.listLoads(ctx, &loadsvcv1.ListLoadsRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Loads) != 0 || resp.NextPageToken == "" {
		t.Fatalf("first page: %d loads, token %q; want none and a token (scan bound)", len(resp.Loads), resp.NextPageToken)
	}
	if h.queries > 1+maxScanned/maxPageSize {
		t.Errorf("%d queries for one page; want at most %d", h.queries, 1+maxScanned/maxPageSize)
	}
	if allows != 1 {
		t.Errorf("allowlist asked %d times for one table; want once", allows)
	}
	resp, err = s.listLoads(ctx, &loadsvcv1.ListLoadsRequest{PageSize: 1, PageToken: resp.NextPageToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Loads) != 1 || resp.Loads[0].Table != "seen" {
		t.Fatalf("second page: %v; want the one visible record", resp.Loads)
	}
}

// Every token pageToken writes parses back to its key, and one longer than
// any it writes is refused.
func TestPageTokenBounds(t *testing.T) {
	k := &loader.HistoryKey{StartedAt: time.UnixMicro(-1 << 62), LoadID: "00000000-0000-0000-0000-000000000000"}
	tok := pageToken(k)
	if len(tok) > maxPageToken {
		t.Fatalf("pageToken wrote %d bytes; maxPageToken is %d", len(tok), maxPageToken)
	}
	got, err := parsePageToken(tok)
	if err != nil || !got.StartedAt.Equal(k.StartedAt) || got.LoadID != k.LoadID {
		t.Fatalf("parsePageToken(pageToken(k)) = %v, %v; want k", got, err)
	}
	if _, err := parsePageToken(tok + strings.Repeat("A", maxPageToken)); err == nil {
		t.Error("a token longer than maxPageToken parsed")
	}
}
