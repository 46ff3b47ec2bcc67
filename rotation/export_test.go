package rotation

// WithBeforeWrite returns o with a hook that runs after each batch is
// rewrapped and before its KV writes: a writer racing the rewrap.
func WithBeforeWrite(o RewrapOptions, f func(userID string, secretIDs []string)) RewrapOptions {
	o.beforeWrite = f
	return o
}
