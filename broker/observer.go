package broker

// Observer receives the service's countable events, for metrics. Its methods
// must be cheap and safe for concurrent use; they never receive a user id, a
// secret id, a name or a value.
type Observer interface {
	// TokensIssued counts bootstrap tokens minted.
	TokensIssued(n int)
	// TokensRevoked counts bootstrap tokens revoked before use.
	TokensRevoked(n int)
	// ListCache counts list cache lookups by outcome.
	ListCache(hit bool)
}

type nopObserver struct{}

func (nopObserver) TokensIssued(int)  {}
func (nopObserver) TokensRevoked(int) {}
func (nopObserver) ListCache(bool)    {}
