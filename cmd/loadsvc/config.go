package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/loadsvc/loadsvc/internal/envvar"
	"github.com/loadsvc/loadsvc/internal/loader"
)

// config is everything the service reads at start: flags, each defaulting
// to its environment variable, each of those to a built-in default.
type config struct {
	Listen           string
	DatabaseURL      string // the flag only; dsn.Resolve reads the environment
	LogFormat        string // json or console
	LogLevel         string
	MaxRecvBytes     int
	MaxInflightBytes int64
	StreamShareBytes int64
	MaxPlanBytes     int
	MaxRows          int
	MaxStreamRows    int
	MaxRowErrors     int
	ConnectTimeout   time.Duration
	AcquireTimeout   time.Duration
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	StreamIdle       time.Duration
	StreamMax        time.Duration
	ShutdownTimeout  time.Duration
	HealthInterval   time.Duration
	MaxWatchStreams  int
	TLSCert          string
	TLSKey           string
	TLSClientCA      string
	TokensFile       string
	AllowTables      string
	MetricsListen    string
	LedgerSchema     string
	LedgerTable      string
	HistoryRetention retention
	sessions

	AllowUnauthenticated bool
	ReloadInterval       time.Duration
	transport
}

// sessions are the settings of the load sessions.
type sessions struct {
	SessionTTL         time.Duration
	SessionMaxTTL      time.Duration
	SessionSweep       time.Duration
	MaxSessions        int
	MaxSessionRows     int64
	SessionStageSchema string
}

// transport is what bounds a client's connection: streams at once and
// keepalive.
type transport struct {
	MaxConcurrentStreams int
	KeepaliveMinTime     time.Duration
	KeepaliveTime        time.Duration
	KeepaliveTimeout     time.Duration
	MaxConnectionIdle    time.Duration
}

// loadConfig parses args over the environment.
func loadConfig(args []string, getenv func(string) string) (*config, error) {
	env := envvar.Reader{Getenv: getenv}
	c := &config{}
	fs := flag.NewFlagSet("loadsvc", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", env.Str("LOADSVC_LISTEN", "127.0.0.1:50051"), "gRPC listen address (LOADSVC_LISTEN)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL; else LOADSVC_DATABASE_URL, DATABASE_URL, then PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE")
	fs.StringVar(&c.LogFormat, "log-format", env.Str("LOADSVC_LOG_FORMAT", "json"), "log format: json or console (LOADSVC_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env.Str("LOADSVC_LOG_LEVEL", "info"), "log level: debug, info, warn, error (LOADSVC_LOG_LEVEL)")
	fs.IntVar(&c.MaxRecvBytes, "max-recv-bytes", env.Int("LOADSVC_MAX_RECV_BYTES", 64<<20), "largest request message in bytes (LOADSVC_MAX_RECV_BYTES)")
	fs.Int64Var(&c.MaxInflightBytes, "max-inflight-bytes", int64(env.Int("LOADSVC_MAX_INFLIGHT_BYTES", 256<<20)),
		"request bytes held decoded at once, server-wide; a request waits for its share; 0 for no bound (LOADSVC_MAX_INFLIGHT_BYTES)")
	fs.Int64Var(&c.StreamShareBytes, "stream-share-bytes", int64(env.Int("LOADSVC_STREAM_SHARE_BYTES", 32<<20)),
		"the share of --max-inflight-bytes one executing LoadStream holds from its first message to its end; each message, received and decoded, must fit in it (LOADSVC_STREAM_SHARE_BYTES)")
	fs.IntVar(&c.MaxPlanBytes, "max-plan-bytes", env.Int("LOADSVC_MAX_PLAN_BYTES", 16<<20),
		"largest plan-only answer (script and statements), and most bytes a plan-only stream may send (LOADSVC_MAX_PLAN_BYTES)")
	fs.IntVar(&c.MaxRows, "max-rows", env.Int("LOADSVC_MAX_ROWS", 100000), "most rows of one Load request; 0 for no limit (LOADSVC_MAX_ROWS)")
	fs.IntVar(&c.MaxStreamRows, "max-stream-rows", env.Int("LOADSVC_MAX_STREAM_ROWS", 0), "most rows of one LoadStream; 0 for no limit (LOADSVC_MAX_STREAM_ROWS)")
	fs.IntVar(&c.MaxRowErrors, "max-row-errors", env.Int("LOADSVC_MAX_ROW_ERRORS", loader.DefaultMaxRowErrors),
		"most bad rows a load reports, in its RowErrors detail or LoadResponse.rejected; more are counted and marked truncated (LOADSVC_MAX_ROW_ERRORS)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", env.Dur("LOADSVC_CONNECT_TIMEOUT", 5*time.Second), "bound on one database connect unless the URL sets connect_timeout (LOADSVC_CONNECT_TIMEOUT)")
	fs.DurationVar(&c.AcquireTimeout, "acquire-timeout", env.Dur("LOADSVC_ACQUIRE_TIMEOUT", 30*time.Second), "longest wait for a pooled connection (LOADSVC_ACQUIRE_TIMEOUT)")
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", env.Dur("LOADSVC_STATEMENT_TIMEOUT", 15*time.Minute), "SET LOCAL statement_timeout of each load; 0 for none (LOADSVC_STATEMENT_TIMEOUT)")
	fs.DurationVar(&c.LockTimeout, "lock-timeout", env.Dur("LOADSVC_LOCK_TIMEOUT", time.Minute), "SET LOCAL lock_timeout of each load; 0 for none (LOADSVC_LOCK_TIMEOUT)")
	fs.DurationVar(&c.StreamIdle, "stream-idle-timeout", env.Dur("LOADSVC_STREAM_IDLE_TIMEOUT", time.Minute),
		"a LoadStream that sends no message for this long ends with DEADLINE_EXCEEDED and is rolled back; 0 for none (LOADSVC_STREAM_IDLE_TIMEOUT)")
	fs.DurationVar(&c.StreamMax, "stream-max-duration", env.Dur("LOADSVC_STREAM_MAX_DURATION", time.Hour),
		"a LoadStream that runs this long, however often it sends, ends with DEADLINE_EXCEEDED and is rolled back; 0 for none (LOADSVC_STREAM_MAX_DURATION)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", env.Dur("LOADSVC_SHUTDOWN_TIMEOUT", 30*time.Second), "how long in-flight loads may finish on SIGTERM (LOADSVC_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.HealthInterval, "health-interval", env.Dur("LOADSVC_HEALTH_INTERVAL", 5*time.Second), "how often the database is pinged for the health of loadsvc.v1.LoadService (LOADSVC_HEALTH_INTERVAL)")
	fs.IntVar(&c.MaxWatchStreams, "max-watch-streams", env.Int("LOADSVC_MAX_WATCH_STREAMS", 100),
		"most health Watch streams at once, server-wide (they need no token); more are RESOURCE_EXHAUSTED; 0 refuses every Watch (LOADSVC_MAX_WATCH_STREAMS)")
	fs.StringVar(&c.TLSCert, "tls-cert", env.Str("LOADSVC_TLS_CERT", ""), "TLS certificate file; reloaded on change and on SIGHUP (LOADSVC_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env.Str("LOADSVC_TLS_KEY", ""), "TLS private key file (LOADSVC_TLS_KEY)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", env.Str("LOADSVC_TLS_CLIENT_CA", ""), "CA bundle that client certificates must chain to: mTLS (LOADSVC_TLS_CLIENT_CA)")
	fs.StringVar(&c.TokensFile, "auth-tokens-file", env.Str("LOADSVC_AUTH_TOKENS_FILE", ""), "bearer tokens, one a line, with optional per-token tables=; unset: no authentication (LOADSVC_AUTH_TOKENS_FILE)")
	fs.StringVar(&c.AllowTables, "allow-tables", env.Str("LOADSVC_ALLOW_TABLES", ""), "comma-separated schema.table globs a load may write; unset: every table (LOADSVC_ALLOW_TABLES)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", env.Str("LOADSVC_METRICS_LISTEN", ""), "address of the Prometheus /metrics listener; unset: off (LOADSVC_METRICS_LISTEN)")
	fs.StringVar(&c.LedgerSchema, "ledger-schema", env.Str("LOADSVC_LEDGER_SCHEMA", "loadsvc"), "schema of the request_id ledger table (LOADSVC_LEDGER_SCHEMA)")
	fs.StringVar(&c.LedgerTable, "ledger-table", env.Str("LOADSVC_LEDGER_TABLE", "load_ledger"), "name of the request_id ledger table, created at start with loadsvc's other tables (LOADSVC_LEDGER_TABLE)")
	c.HistoryRetention = retention(400 * 24 * time.Hour)
	if v := getenv("LOADSVC_HISTORY_RETENTION"); v != "" {
		if err := c.HistoryRetention.Set(v); err != nil {
			return nil, fmt.Errorf("LOADSVC_HISTORY_RETENTION: %w", err)
		}
	}
	fs.Var(&c.HistoryRetention, "history-retention", "how long the load history keeps a record, such as 400d or 720h; pruned hourly; 0 keeps every record (LOADSVC_HISTORY_RETENTION, default 400d)")
	c.bindSecurity(fs, &env)
	c.bindTransport(fs, &env)
	c.bindSessions(fs, &env)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if env.Err != nil {
		return nil, env.Err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return nil, fmt.Errorf("--log-format must be json or console, not %q", c.LogFormat)
	}
	if c.MaxInflightBytes > 0 && c.MaxInflightBytes < int64(c.MaxRecvBytes) {
		return nil, fmt.Errorf("--max-inflight-bytes (LOADSVC_MAX_INFLIGHT_BYTES) %d is below --max-recv-bytes (LOADSVC_MAX_RECV_BYTES) %d: "+
			"a message of the largest size could never be decoded; raise the one or lower the other", c.MaxInflightBytes, c.MaxRecvBytes)
	}
	if c.StreamShareBytes <= 0 || c.MaxPlanBytes <= 0 {
		return nil, fmt.Errorf("--stream-share-bytes (LOADSVC_STREAM_SHARE_BYTES) and --max-plan-bytes (LOADSVC_MAX_PLAN_BYTES) must be more than 0; got %d and %d",
			c.StreamShareBytes, c.MaxPlanBytes)
	}
	if c.MaxRowErrors <= 0 {
		return nil, fmt.Errorf("--max-row-errors (LOADSVC_MAX_ROW_ERRORS) must be more than 0, not %d", c.MaxRowErrors)
	}
	if c.MaxWatchStreams < 0 {
		return nil, fmt.Errorf("--max-watch-streams (LOADSVC_MAX_WATCH_STREAMS) must be 0 (no Watch) or more, not %d", c.MaxWatchStreams)
	}
	if c.MaxConcurrentStreams < 0 || c.ReloadInterval <= 0 {
		return nil, fmt.Errorf("--max-concurrent-streams must be 0 (no limit) or more, --reload-interval more than 0; got %d and %v",
			c.MaxConcurrentStreams, c.ReloadInterval)
	}
	return c, c.sessions.check()
}

// bindSessions defines the flags of the load sessions.
func (c *config) bindSessions(fs *flag.FlagSet, env *envvar.Reader) {
	fs.DurationVar(&c.SessionTTL, "session-ttl", env.Dur("LOADSVC_SESSION_TTL", 24*time.Hour),
		"how long a load session lives when BeginLoad asks no ttl (LOADSVC_SESSION_TTL)")
	fs.DurationVar(&c.SessionMaxTTL, "session-max-ttl", env.Dur("LOADSVC_SESSION_MAX_TTL", 7*24*time.Hour),
		"the longest ttl a BeginLoad may ask (LOADSVC_SESSION_MAX_TTL)")
	fs.DurationVar(&c.SessionSweep, "session-sweep-interval", env.Dur("LOADSVC_SESSION_SWEEP_INTERVAL", time.Minute),
		"how often expired load sessions and their stages are dropped, by one replica at a time (LOADSVC_SESSION_SWEEP_INTERVAL)")
	fs.IntVar(&c.MaxSessions, "max-sessions", env.Int("LOADSVC_MAX_SESSIONS", 100),
		"most open load sessions one principal holds (LOADSVC_MAX_SESSIONS)")
	fs.Int64Var(&c.MaxSessionRows, "max-session-rows", int64(env.Int("LOADSVC_MAX_SESSION_ROWS", 100_000_000)),
		"most rows one load session's stage holds, all writers together (a session outlives its writers, so it is bounded by default); 0 for no limit (LOADSVC_MAX_SESSION_ROWS)")
	fs.StringVar(&c.SessionStageSchema, "session-stage-schema", env.Str("LOADSVC_SESSION_STAGE_SCHEMA", "loadsvc_stage"),
		"schema of the load sessions' UNLOGGED stage tables, created when first needed (LOADSVC_SESSION_STAGE_SCHEMA)")
}

func (s sessions) check() error {
	if s.SessionMaxTTL < loader.MinSessionTTL || s.SessionTTL < loader.MinSessionTTL || s.SessionTTL > s.SessionMaxTTL {
		return fmt.Errorf("--session-ttl (LOADSVC_SESSION_TTL) %v must be from %v to --session-max-ttl (LOADSVC_SESSION_MAX_TTL) %v", s.SessionTTL, loader.MinSessionTTL, s.SessionMaxTTL)
	}
	if s.MaxSessionRows < 0 {
		return fmt.Errorf("--max-session-rows (LOADSVC_MAX_SESSION_ROWS) must be 0 (no limit) or more, not %d", s.MaxSessionRows)
	}
	if s.SessionSweep <= 0 || s.MaxSessions <= 0 {
		return fmt.Errorf("--session-sweep-interval (LOADSVC_SESSION_SWEEP_INTERVAL) and --max-sessions (LOADSVC_MAX_SESSIONS) must be more than 0; got %v and %d", s.SessionSweep, s.MaxSessions)
	}
	if err := loader.CheckIdent(s.SessionStageSchema); err != nil {
		return fmt.Errorf("--session-stage-schema (LOADSVC_SESSION_STAGE_SCHEMA): %v", err)
	}
	return nil
}

// bindSecurity defines the flags of the listener's exposure and of the
// files reloaded while the service runs.
func (c *config) bindSecurity(fs *flag.FlagSet, env *envvar.Reader) {
	fs.BoolVar(&c.AllowUnauthenticated, "allow-unauthenticated", env.Bool("LOADSVC_ALLOW_UNAUTHENTICATED", false),
		"serve a non-loopback address without tokens or client certificates, so that anyone who reaches it may write (LOADSVC_ALLOW_UNAUTHENTICATED)")
	fs.DurationVar(&c.ReloadInterval, "reload-interval", env.Dur("LOADSVC_RELOAD_INTERVAL", 10*time.Second),
		"how often the token file and the TLS files are checked for changes; a removed token ends its calls within it (LOADSVC_RELOAD_INTERVAL)")
}

// bindTransport defines the flags that bound a client's connection.
func (c *config) bindTransport(fs *flag.FlagSet, env *envvar.Reader) {
	fs.IntVar(&c.MaxConcurrentStreams, "max-concurrent-streams", env.Int("LOADSVC_MAX_CONCURRENT_STREAMS", 100),
		"most calls one client connection runs at once; more wait on the client; 0 for no limit (LOADSVC_MAX_CONCURRENT_STREAMS)")
	fs.DurationVar(&c.KeepaliveMinTime, "keepalive-min-time", env.Dur("LOADSVC_KEEPALIVE_MIN_TIME", 10*time.Second),
		"a client that pings more often is disconnected (GOAWAY too_many_pings) (LOADSVC_KEEPALIVE_MIN_TIME)")
	fs.DurationVar(&c.KeepaliveTime, "keepalive-time", env.Dur("LOADSVC_KEEPALIVE_TIME", time.Minute),
		"the server pings a connection quiet for this long (LOADSVC_KEEPALIVE_TIME)")
	fs.DurationVar(&c.KeepaliveTimeout, "keepalive-timeout", env.Dur("LOADSVC_KEEPALIVE_TIMEOUT", 20*time.Second),
		"and closes it when the ping is not answered within this (LOADSVC_KEEPALIVE_TIMEOUT)")
	fs.DurationVar(&c.MaxConnectionIdle, "max-connection-idle", env.Dur("LOADSVC_MAX_CONNECTION_IDLE", 15*time.Minute),
		"a connection without a call for this long is closed (GOAWAY); 0 for never (LOADSVC_MAX_CONNECTION_IDLE)")
}
