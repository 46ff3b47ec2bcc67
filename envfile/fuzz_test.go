package envfile

import (
	"bytes"
	"testing"
)

// fuzzEnv turns arbitrary bytes into an env map: parts separated by NUL
// alternate name, value. Names are mapped onto [A-Za-z0-9_] and prefixed with
// F_ (so they are valid and never collide with a shell's own variables such
// as PPID or IFS); values are the raw bytes (NUL-free by construction).
func fuzzEnv(data []byte) map[string]string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
	parts := bytes.Split(data, []byte{0})
	env := map[string]string{}
	for i := 0; i+1 < len(parts); i += 2 {
		name := []byte("F_")
		for _, c := range parts[i] {
			name = append(name, alphabet[int(c)%len(alphabet)])
		}
		env[string(name)] = string(parts[i+1])
	}
	return env
}

func FuzzEnvFileRoundTrip(f *testing.F) {
	f.Add([]byte("A\x00plain"))
	f.Add([]byte("Q\x00it's 'quoted'\x00D\x00\"double\" $HOME `id` \\n\\"))
	f.Add([]byte("N\x00line1\nline2\n\n\x00E\x00"))
	f.Add([]byte("U\x00\xff\xfe\u00e9\u65e5\x00B\x00\\'\\\\''"))
	sh := shells(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env := fuzzEnv(data)
		for _, s := range sh {
			assertRoundTrip(t, s, env)
		}
	})
}
