package client

import (
	"context"

	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// maxPageSize is the largest page ListLoads serves.
const maxPageSize = 1000

// History lists the recorded executing loads that req selects (its schema,
// table, status, since and until; empty fields select everything), newest
// first, following ListLoads' pages until limit records (0: every record)
// or the last page. req is not changed; its PageToken, if set, is where the
// listing starts. A token sees only the loads of tables it may write. A page
// that fails with UNAVAILABLE or ABORTED is asked again, as Load retries.
// Errors are *Error.
func (c *Client) History(ctx context.Context, req *loadsvcv1.ListLoadsRequest, limit int) ([]*loadsvcv1.LoadRecord, error) {
	page := proto.CloneOf(req)
	if page == nil {
		page = &loadsvcv1.ListLoadsRequest{}
	}
	var out []*loadsvcv1.LoadRecord
	for {
		if limit > 0 {
			page.PageSize = int32(min(limit-len(out), maxPageSize))
		}
		resp, err := retried(ctx, c, c.svc.ListLoads, page)
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetLoads()...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if resp.GetNextPageToken() == "" || len(resp.GetLoads()) == 0 {
			return out, nil
		}
		page.PageToken = resp.GetNextPageToken()
	}
}
