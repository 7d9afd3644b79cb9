package loader

import (
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds a connect when the URL sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

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
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, CancelRequestDelay: 0, DeadlineDelay: 3 * time.Second}
	}
}
