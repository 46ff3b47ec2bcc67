package egressproxy

import "sync"

// bufferPool lends the reverse proxy its 32 KiB copy buffers: without it
// every forwarded request allocates (and the GC clears) a fresh one.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}}
}

// Get returns a buffer of copyBufferSize bytes.
func (bp *bufferPool) Get() []byte { return *(bp.p.Get().(*[]byte)) }

// Put takes a buffer back (one of another size is dropped).
func (bp *bufferPool) Put(b []byte) {
	if cap(b) != copyBufferSize {
		return
	}
	b = b[:copyBufferSize]
	bp.p.Put(&b)
}
