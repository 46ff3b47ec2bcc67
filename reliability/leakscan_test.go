//go:build reliability

package reliability

import (
	"encoding/base64"
	"testing"
)

// TestLeakScanFindsPlanted: the leak scan itself can fail: a planted value
// verbatim, and another base64-encoded, inside larger text are both found;
// an unplanted look-alike is not.
func TestLeakScanFindsPlanted(t *testing.T) {
	a, b, other := newValue(), newValue(), "rv-"+randHex(16)
	text := []byte(`{"x":"prefix ` + a + ` suffix","y":"` + base64.StdEncoding.EncodeToString([]byte(b)) + `","z":"` + other + `"}`)
	if n, _ := leaks(text); n != 2 {
		t.Fatalf("leaks found %d planted values, want 2", n)
	}
	if n, _ := leaks([]byte(other + " " + a[:len(a)-1])); n != 0 {
		t.Fatalf("leaks found %d in text without a planted value", n)
	}
}
