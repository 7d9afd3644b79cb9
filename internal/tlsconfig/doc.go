// Package tlsconfig owns loadsvc's server TLS: it loads the certificate and
// key (and, for mutual TLS, the client CA bundle) from files, hands them to
// every new handshake through a tls.Config, and swaps them in place when the
// files change or Reload is called (SIGHUP), so a renewed certificate takes
// effect without a restart. A reload that fails keeps the material that
// works and reports why.
package tlsconfig
