package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
)

// pruneInterval is how often a replica prunes the load history.
const pruneInterval = time.Hour

// retention is LOADSVC_HISTORY_RETENTION: a duration that may be given in
// days ("400d"), as Go's durations cannot; 0 keeps every record.
type retention time.Duration

func (r *retention) String() string { return time.Duration(*r).String() }

func (r *retention) Set(s string) error {
	d, err := parseRetention(s)
	if err != nil {
		return err
	}
	*r = retention(d)
	return nil
}

// parseRetention reads "400d", or a Go duration such as "720h".
func parseRetention(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a number of days such as 400d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a retention such as 400d or 720h", s)
	}
	return d, nil
}

// startPruner prunes the load history of records older than keep, at
// start and every pruneInterval, until the function it returns is called;
// that waits for a prune under way to stop. One replica at a time prunes
// (PruneHistory's lock); a failure is logged and tried again next time.
func startPruner(exec *pgexec.Executor, keep time.Duration, log *zap.Logger, redact func(string) string) func() {
	if exec.Pool == nil || keep <= 0 {
		return func() {}
	}
	return inBackground(context.Background(), func(ctx context.Context) {
		t := time.NewTicker(pruneInterval)
		defer t.Stop()
		for {
			prune(ctx, exec, keep, log, redact)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// prune runs one PruneHistory and logs what it did.
func prune(ctx context.Context, exec *pgexec.Executor, keep time.Duration, log *zap.Logger, redact func(string) string) {
	n, ran, err := exec.PruneHistory(ctx, keep)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("pruning the load history failed; trying again in an hour", zap.Int64("deleted", n), zap.String("error", redact(err.Error())))
	case ran:
		log.Info("load history pruned", zap.Int64("deleted", n), zap.Duration("retention", keep))
	case err == nil:
		log.Info("load history: another replica is pruning it")
	}
}
