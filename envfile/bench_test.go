package envfile

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

func benchEnv(n, size int) map[string]string {
	env := make(map[string]string, n)
	for i := range n {
		const pattern = "ab'c$\\\n" // a quote, a dollar, a backslash, a newline
		env[fmt.Sprintf("VAR_%03d", i)] = strings.Repeat(pattern, size/len(pattern)+1)[:size]
	}
	return env
}

func BenchmarkEncode(b *testing.B) {
	for _, bc := range []struct{ n, size int }{{3, 64}, {20, 64}, {100, 1024}} {
		env := benchEnv(bc.n, bc.size)
		b.Run(fmt.Sprintf("vars=%d/size=%d", bc.n, bc.size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(bc.n * bc.size))
			for b.Loop() {
				if err := Encode(io.Discard, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQuote(b *testing.B) {
	s := strings.Repeat("it's $HOME \\ `x`\n", 16)
	b.ReportAllocs()
	for b.Loop() {
		_ = Quote(s)
	}
}
