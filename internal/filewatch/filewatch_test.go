package filewatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/loadsvc/loadsvc/internal/filewatch"
)

// Watch polls until ctx ends and logs each distinct failure once, again
// after a success in between.
func TestWatchLogsEachFailureOnce(t *testing.T) {
	t.Parallel()
	results := []error{errors.New("a"), errors.New("a"), errors.New("b"), nil, errors.New("b"), errors.New("b")}
	core, logs := observer.New(zap.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		filewatch.Watch(ctx, time.Millisecond, func() error {
			if calls == len(results) {
				cancel()
				return nil
			}
			calls++
			return results[calls-1]
		}, zap.New(core), "reload failed")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after ctx ended")
	}
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.ContextMap()["error"].(string))
	}
	if want := []string{"a", "b", "b"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("logged %v, want %v", got, want)
	}
}
