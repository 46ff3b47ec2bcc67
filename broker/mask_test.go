package broker

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func checkMask(t *testing.T, value string) {
	t.Helper()
	got := Mask(value)
	n := utf8.RuneCountInString(value)
	if w := utf8.RuneCountInString(got); w != previewWidth {
		t.Fatalf("Mask(len %d) = %q: width %d, want %d whatever the length", n, got, w, previewWidth)
	}
	full := strings.Repeat(string(MaskRune), previewWidth)
	if n < minRevealLen {
		if got != full {
			t.Fatalf("Mask(len %d) = %q: short values must be fully masked", n, got)
		}
		return
	}
	runes := []rune(got)
	pre, mid, suf := string(runes[:revealPrefix]), string(runes[revealPrefix:revealPrefix+maskWidth]), string(runes[revealPrefix+maskWidth:])
	if mid != strings.Repeat(string(MaskRune), maskWidth) {
		t.Fatalf("Mask(len %d) = %q: no fixed-width mask in the middle", n, got)
	}
	if 4*(revealPrefix+revealSuffix) > n {
		t.Fatalf("Mask(len %d) reveals more than a quarter", n)
	}
	// What is revealed is a prefix and a suffix of the value (control
	// characters replaced), never something else.
	v := []rune(value)
	if sanitizePreview(string(v[:revealPrefix])) != pre || sanitizePreview(string(v[n-revealSuffix:])) != suf {
		t.Fatalf("Mask(len %d) = %q: preview is not a prefix and suffix of the value", n, got)
	}
}

func TestMaskExamples(t *testing.T) {
	cases := map[string]string{
		"":                                "•••••••••••••••",
		"short":                           "•••••••••••••••",
		"sk-proj-abcdefghij789":           "•••••••••••••••",
		strings.Repeat("y", 27):           "•••••••••••••••",
		"sk-proj-abcdefghijklmnopqrst789": "sk-p••••••••789",
		"sk-proj-" + strings.Repeat("x", 40) + "789": "sk-p••••••••789",
	}
	for in, want := range cases {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMaskWidthHidesLength: the previews of values of every length from 0
// to 300 all have the same width, so a preview does not tell the length
// (the old len/4 preview was 13, 12 and 10 characters wide for 45-, 33- and
// 25-character values).
func TestMaskWidthHidesLength(t *testing.T) {
	widths := map[int][]int{}
	for n := 0; n <= 300; n++ {
		w := utf8.RuneCountInString(Mask(strings.Repeat("k", n)))
		widths[w] = append(widths[w], n)
	}
	if len(widths) != 1 {
		t.Fatalf("preview widths depend on the length: width -> lengths %v", widths)
	}
}

// TestMaskProperties: for every length from 0 to 300 (and random contents,
// ASCII and multibyte), one width, at most a quarter revealed, a fixed-width
// mask, and short values fully masked.
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
	for _, s := range []string{"", "a", "sk-proj-abcdef0123456789", strings.Repeat("b", 27), strings.Repeat("c", 28), "ghp_" + strings.Repeat("Z", 36),
		"漢字漢字漢字漢字漢字漢字漢字", strings.Repeat("漢", 28), "line1\nline2\nline3\nline4\nline5\n"} {
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
