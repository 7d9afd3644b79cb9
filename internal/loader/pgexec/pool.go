package pgexec

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds a connect when the URL sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// cancelDeadline bounds a cancelled statement: past it the socket is closed.
const cancelDeadline = 3 * time.Second

// ConfigurePool sets what loads rely on: a bounded connect, and a context
// watcher that cancels the running statement on the server when a request is
// cancelled (closing the socket only if the cancel does not land), so that a
// cancelled load stops its backend at once and keeps its session reusable.
func ConfigurePool(cfg *pgxpool.Config, connectTimeout time.Duration) {
	if cfg.ConnConfig.ConnectTimeout == 0 {
		if connectTimeout <= 0 {
			connectTimeout = DefaultConnectTimeout
		}
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &cancelHandler{conn: c, deadline: cancelDeadline}
	}
}

// cancelHandler sends PostgreSQL a cancel request when a statement's context
// ends, and, like libpq, waits for the cancel connection to finish before
// the session is used again. pgx's own CancelRequestContextWatcherHandler
// closes that connection at once, which crashes PgBouncer 1.18 (Debian 12's;
// pgbouncer#801) when the cancel is still being forwarded.
type cancelHandler struct {
	conn     *pgconn.PgConn
	deadline time.Duration
	done     chan struct{}
}

func (h *cancelHandler) HandleCancel(context.Context) {
	h.done = make(chan struct{})
	deadline := time.Now().Add(h.deadline)
	h.conn.Conn().SetDeadline(deadline) // fails only on a closed connection, which needs no deadline
	go func() {
		defer close(h.done)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		h.conn.CancelRequest(ctx)          // if it fails, the deadline closes the connection
		time.Sleep(100 * time.Millisecond) // as pgx: let the cancel land before reuse
	}()
}

func (h *cancelHandler) HandleUnwatchAfterCancel() {
	<-h.done
	h.conn.Conn().SetDeadline(time.Time{}) // as in HandleCancel
}
