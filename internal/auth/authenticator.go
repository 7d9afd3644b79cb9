package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/filewatch"
)

// DefaultInterval is how often Watch looks at the token file when asked
// to watch with a non-positive interval.
const DefaultInterval = filewatch.DefaultInterval

// Authenticator checks the bearer tokens of gRPC calls against a token
// file, which it reads again on Reload or, under Watch, when it changes.
// A file that fails to load leaves the tokens in service unchanged. It is
// safe for concurrent use.
type Authenticator struct {
	file string
	log  *zap.Logger

	mu   sync.Mutex // serializes reloads
	cur  atomic.Pointer[tokenSet]
	live liveCalls // running calls, ended when their token goes
}

// NewAuthenticator loads the token file (see the package documentation);
// it fails when the file cannot be read or parsed, or holds no token.
func NewAuthenticator(tokensFile string, log *zap.Logger) (*Authenticator, error) {
	if tokensFile == "" {
		return nil, errors.New("auth: no token file named")
	}
	if log == nil {
		log = zap.NewNop()
	}
	a := &Authenticator{file: tokensFile, log: log}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload reads the token file again and, if it parses, puts its tokens in
// service from the next call on and ends the running calls of tokens it no
// longer holds (their context is cancelled with ErrTokenRevoked); on error
// the previous tokens stay.
func (a *Authenticator) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reload(true)
}

// Watch re-reads the token file every interval (DefaultInterval if
// every <= 0) and reloads when its content changed, logging each failure
// once. It returns when ctx ends; run it in its own goroutine.
func (a *Authenticator) Watch(ctx context.Context, every time.Duration) {
	filewatch.Watch(ctx, every, func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.reload(false)
	}, a.log, "auth token reload failed; keeping the tokens in service")
}

// reload loads the file when force is set or its content changed since
// the set in service. The caller holds a.mu.
func (a *Authenticator) reload(force bool) error {
	data, err := os.ReadFile(a.file)
	if err != nil {
		return fmt.Errorf("auth token file: %w", err)
	}
	s, err := parseTokens(data)
	if err != nil {
		return fmt.Errorf("auth token file %s: %w", a.file, err)
	}
	if cur := a.cur.Load(); !force && cur != nil && cur.sum == s.sum {
		return nil
	}
	a.cur.Store(s)
	a.logLoaded(s)
	if n := a.live.revoke(s.holds); n > 0 {
		a.log.Warn("ended running calls whose token was removed from the token file", zap.Int("calls", n))
	}
	return nil
}

func (a *Authenticator) logLoaded(s *tokenSet) {
	names := make([]string, len(s.principals))
	for i, p := range s.principals {
		names[i] = p.Name
	}
	a.log.Info("auth tokens loaded", zap.String("file", a.file), zap.Int("tokens", len(names)), zap.Strings("names", names))
	for _, name := range s.short {
		a.log.Warn("auth token is short; use at least 16 random characters", zap.String("name", name))
	}
}

// Authenticate finds the caller of an incoming call from its metadata
// "authorization: Bearer <token>". Its error is an UNAUTHENTICATED status
// whose message never holds the token.
func (a *Authenticator) Authenticate(ctx context.Context) (Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	p, _, err := a.authenticate(md)
	return p, err
}

// authenticate is Authenticate from the call's metadata; it also returns
// the hash of the token, which keys the call among the live ones.
func (a *Authenticator) authenticate(md metadata.MD) (Principal, [sha256.Size]byte, error) {
	token, err := bearerToken(md.Get("authorization"))
	if err != nil {
		return Principal{}, [sha256.Size]byte{}, err
	}
	h := sha256.Sum256([]byte(token))
	p, ok := a.cur.Load().lookup(h)
	if !ok {
		return Principal{}, h, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return p, h, nil
}

// bearerToken takes the token out of the authorization metadata values.
func bearerToken(vals []string) (string, error) {
	switch {
	case len(vals) == 0:
		return "", status.Error(codes.Unauthenticated, `missing credentials: send the metadata "authorization: Bearer <token>"`)
	case len(vals) > 1:
		return "", status.Error(codes.Unauthenticated, "more than one authorization metadata value")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", status.Error(codes.Unauthenticated, `the authorization metadata is not "Bearer <token>"`)
	}
	return token, nil
}
