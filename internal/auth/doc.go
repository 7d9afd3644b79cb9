// Package auth owns who may call loadsvc and which tables they may write:
// bearer-token authentication of gRPC calls (Authenticator, its tap handle
// and interceptors), the caller it identifies (Principal, carried in the
// context; PrincipalName, which also names a client certificate), and the
// table allowlists (Allowlist, Policy) a load must pass before any
// database connection.
//
// A call is authenticated from its headers by a gRPC tap handle, before a
// byte of its body is read: without a valid token it costs the server no
// decoding and no buffering. A call runs as long as its token is in the
// file: a reload that removes a token ends the calls it authenticated.
//
// # Token file
//
// LOADSVC_AUTH_TOKENS_FILE names a text file with one token a line:
//
//	# blank lines and lines starting with # are ignored
//	zR4vXk0h7d2Qm9sLw1pT
//	b1946ac92492d2347c6235b4d2611184 name=worker-a tables=public.*,staging.nav_*
//	6f1ed002ab5595859014ebf0951522d9 name=worker-a   # the next token of worker-a
//
// A line is the token, then optional attributes, all separated by spaces;
// a field starting with # ends the line. The token is printable ASCII
// without spaces (it travels as gRPC metadata); tokens shorter than 16
// characters are accepted with a warning. The attributes are:
//
//	name=NAME     the caller's principal: what scopes its request ids and
//	              what logs and errors call it; several tokens may share
//	              a name (a rotation). Without it the principal is
//	              "token:" and the first 16 hex digits of the token's
//	              SHA-256, never the token or its line: removing or
//	              moving another line changes no principal
//	tables=LIST   an allowlist (see ParseAllowlist) this token is limited
//	              to, on top of the service's LOADSVC_ALLOW_TABLES; without
//	              it the token may write what the service allowlist allows
//
// Any other attribute, a token given twice, or a file without a token is an
// error: the whole file is refused, and on a reload the tokens in service
// stay in service. The file is read again when its content changes (Watch)
// and on Reload (SIGHUP). Deleting a line ends the running calls of its
// token at that reload. To rotate a token, add the new line, move the
// clients over, then delete the old line. Replace the file atomically
// (write a temporary file, rename it over) so a reload never reads half of
// it.
//
// Only SHA-256 hashes of the tokens are kept. A presented token is hashed
// and compared in constant time with every hash in the file, so neither
// its length nor which token it resembles shows in the timing. No token
// ever appears in a log line, an error, a status message or a metric.
//
// # Principals
//
// The principal is the stable name of a caller: it scopes request ids in
// the exactly-once ledger, and logs and errors call the caller by it. A
// call authenticated by a token has the token's principal (name=, or a
// digest of the token). Without one, a call over mutual TLS has the
// identity of its verified client certificate: the first URI SAN, else
// the first DNS SAN, else the subject CN. A call with neither has the
// principal "", shared by all such calls.
//
// # Table allowlists
//
// An allowlist is a comma-separated list of schema.table patterns, such as
// "public.*,staging.nav_?". A pattern is split at its first dot: the part
// before it matches the schema, the rest the table, so "staging.nav.v2"
// matches the table "nav.v2" in schema "staging". Each part has the syntax
// of path.Match ('*', '?', '[a-z]', '[^0-9]', '\' escapes), matched against
// the whole name, case-sensitively, by characters (any UTF-8 name), except
// that '*' and '?' also match '/', which is an ordinary character in a
// table name.
package auth
