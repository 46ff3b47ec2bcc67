package vaultx

import "testing"

func TestCiphertextKeyVersion(t *testing.T) {
	for ct, want := range map[string]int{
		"vault:v1:abc":       1,
		"vault:v12:abc":      12,
		"vault:v0:abc":       0,
		"vault:v:abc":        0,
		"vault:vx:abc":       0,
		"vault:v3":           0,
		"":                   0,
		"v1:abc":             0,
		"vault:v-2:abc":      0,
		"vault:v9999999999:": 0,
	} {
		if got := ciphertextKeyVersion(ct); got != want {
			t.Errorf("ciphertextKeyVersion(%q) = %d, want %d", ct, got, want)
		}
	}
}
