package auth

import (
	"context"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultSchema is the schema an empty schema means once an allowlist
// applies: the load then runs there, whatever the session's search_path.
const DefaultSchema = "public"

// ReasonTableNotAllowed is the google.rpc.ErrorInfo reason of a refusal,
// in the domain "loadsvc".
const ReasonTableNotAllowed = "TABLE_NOT_ALLOWED"

// Policy decides which tables a call may write: the service's allowlist
// and the caller's own (Principal.Tables) must both allow the table.
type Policy struct {
	global *Allowlist
}

// NewPolicy builds the policy from LOADSVC_ALLOW_TABLES: "" (unset) puts
// no service-wide limit (every table the database user may write, unless
// a token carries its own list); otherwise it must parse as an allowlist.
func NewPolicy(allowTables string) (*Policy, error) {
	if allowTables == "" {
		return &Policy{}, nil
	}
	a, err := ParseAllowlist(allowTables)
	if err != nil {
		return nil, fmt.Errorf("LOADSVC_ALLOW_TABLES: %w", err)
	}
	return &Policy{global: a}, nil
}

// Allow decides whether the caller in ctx may write schema.table; it has
// the signature of server.Options.Allow. When any allowlist applies, an
// empty schema is taken as DefaultSchema, matched as such and returned, so
// the load runs in that schema; with no allowlist at all the schema comes
// back unchanged. A refusal is a PERMISSION_DENIED status naming the table
// and the allowlist that refused it.
func (p *Policy) Allow(ctx context.Context, schema, table string) (string, error) {
	caller, _ := FromContext(ctx)
	if p.global == nil && caller.Tables == nil {
		return schema, nil
	}
	if schema == "" {
		schema = DefaultSchema
	}
	if !p.global.Allows(schema, table) {
		return "", refusal(schema, table, "the service's table allowlist (LOADSVC_ALLOW_TABLES)", "service", "")
	}
	if !caller.Tables.Allows(schema, table) {
		return "", refusal(schema, table, fmt.Sprintf("the table allowlist of token %q", caller.Name), "token", caller.Name)
	}
	return schema, nil
}

// refusal is the PERMISSION_DENIED status of a table an allowlist refused.
func refusal(schema, table, which, kind, principal string) error {
	st := status.Newf(codes.PermissionDenied, "table %q.%q is not allowed: it matches no pattern of %s", schema, table, which)
	md := map[string]string{"schema": schema, "table": table, "allowlist": kind}
	if principal != "" {
		md["principal"] = principal
	}
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Domain: "loadsvc", Reason: ReasonTableNotAllowed, Metadata: md}); err == nil {
		st = d
	}
	return st.Err()
}
