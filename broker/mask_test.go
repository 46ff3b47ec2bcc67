package broker

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// revealed counts the characters of the preview that are not the mask.
func revealed(preview string) int {
	return utf8.RuneCountInString(preview) - maskWidth
}

func checkMask(t *testing.T, value string) {
	t.Helper()
	got := Mask(value)
	n := utf8.RuneCountInString(value)
	mask := strings.Repeat(string(MaskRune), maskWidth)
	if strings.Count(got, mask) < 1 || !strings.Contains(got, mask) {
		t.Fatalf("Mask(len %d) = %q: no fixed-width mask", n, got)
	}
	r := revealed(got)
	if n < minRevealLen && got != mask {
		t.Fatalf("Mask(len %d) = %q: short values must be fully masked", n, got)
	}
	if 4*r > n {
		t.Fatalf("Mask(len %d) reveals %d characters: more than a quarter", n, r)
	}
	// What is revealed is a prefix and a suffix of the value (control
	// characters replaced), never something else.
	runes := []rune(value)
	pre, suf, _ := strings.Cut(got, mask)
	if len([]rune(pre))+len([]rune(suf)) != r {
		t.Fatalf("Mask(len %d) = %q: mask appears more than once", n, got)
	}
	if sanitizePreview(string(runes[:len([]rune(pre))])) != pre || sanitizePreview(string(runes[n-len([]rune(suf)):])) != suf {
		t.Fatalf("Mask(len %d) = %q: preview is not a prefix and suffix of the value", n, got)
	}
}

func TestMaskExamples(t *testing.T) {
	cases := map[string]string{
		"":                      "••••",
		"short":                 "••••",
		"elevenchars":           "••••",
		"twelve-chars":          "tw••••s",
		"sk-proj-abcdefghij789": "sk-p••••9",
		"sk-proj-" + strings.Repeat("x", 40) + "789": "sk-pro••••789",
	}
	for in, want := range cases {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMaskProperties: for every length from 0 to 300 (and random contents,
// ASCII and multibyte), at most a quarter revealed, a fixed-width mask,
// values under 12 characters fully masked, and the width of the mask never
// depends on the length.
func TestMaskProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{"abcdefghijklmnopqrstuvwxyz0123456789-_", "äöü€漢字🙂\n\t\"'$\\"}
	for n := 0; n <= 300; n++ {
		for _, alpha := range alphabets {
			a := []rune(alpha)
			v := make([]rune, n)
			for i := range v {
				v[i] = a[rng.IntN(len(a))]
			}
			checkMask(t, string(v))
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "a", "sk-proj-abcdef0123456789", "ghp_" + strings.Repeat("Z", 36), "漢字漢字漢字漢字漢字漢字漢字", "line1\nline2\nline3\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		checkMask(t, s)
	})
}

func BenchmarkMask(b *testing.B) {
	v := "sk-proj-" + strings.Repeat("a1B2", 30)
	for b.Loop() {
		_ = Mask(v)
	}
}
