package auth

// LiveCalls is the number of calls a's registry tracks, for tests.
func (a *Authenticator) LiveCalls() int {
	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	n := 0
	for _, calls := range a.live.calls {
		n += len(calls)
	}
	return n
}

// CertIdentity is certIdentity, for tests.
var CertIdentity = certIdentity
