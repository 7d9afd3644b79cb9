// Package filewatch keeps files a running service serves from — its TLS
// certificate, its token file — in step with the disk: it polls and lets
// the owner reload when they changed, logging each distinct failure once.
package filewatch

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// DefaultInterval is how often Watch polls when given no interval.
const DefaultInterval = 10 * time.Second

// Watch calls reload every interval (DefaultInterval if every <= 0) until
// ctx ends. reload loads the files if they changed and keeps what is in
// service on error; Watch logs each distinct error once, with msg. Run it in
// its own goroutine.
func Watch(ctx context.Context, every time.Duration, reload func() error, log *zap.Logger, msg string) {
	if every <= 0 {
		every = DefaultInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := reload()
		switch {
		case err == nil:
			last = ""
		case err.Error() != last:
			last = err.Error()
			log.Warn(msg, zap.Error(err))
		}
	}
}
