package auth

import "context"

// Principal is the caller an accepted token stands for.
type Principal struct {
	// Name is the token's name= attribute, or "line N" of the token file;
	// it is safe to log. Several tokens may share it.
	Name string
	// Tables, when not nil, limits the caller to these tables on top of
	// the service's allowlist.
	Tables *Allowlist
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal the interceptors put in ctx; ok is
// false when the call was not authenticated (authentication off, or an
// exempt method such as health).
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// PrincipalName is the name of the caller of ctx, "" when the call was not
// authenticated; it has the signature of server.Options.Principal. Tokens
// that share a name (a rotation) are one principal.
func PrincipalName(ctx context.Context) string {
	p, _ := FromContext(ctx)
	return p.Name
}
