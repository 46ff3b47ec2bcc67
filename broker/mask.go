package broker

import "strings"

// MaskRune is the character of the mask.
const MaskRune = '•'

// The preview of a value of at least minRevealLen characters is its first
// revealPrefix characters, maskWidth mask characters and its last
// revealSuffix characters; a shorter value is previewWidth mask characters.
// Every preview is previewWidth characters wide, so it does not tell the
// value's length (only whether it has at least minRevealLen characters).
const (
	revealPrefix = 4
	revealSuffix = 3
	maskWidth    = 8
	previewWidth = revealPrefix + maskWidth + revealSuffix
	// minRevealLen keeps what is revealed within a quarter of the value.
	minRevealLen = 4 * (revealPrefix + revealSuffix)
)

// Mask returns the preview of a value: for values of 28 characters or more
// the first 4 and the last 3 around 8 mask characters ("sk-p••••••••789"),
// otherwise 15 mask characters. The width never depends on the length.
func Mask(value string) string {
	r := []rune(value)
	if len(r) < minRevealLen {
		return strings.Repeat(string(MaskRune), previewWidth)
	}
	return sanitizePreview(string(r[:revealPrefix])) + strings.Repeat(string(MaskRune), maskWidth) +
		sanitizePreview(string(r[len(r)-revealSuffix:]))
}

// sanitizePreview replaces control characters so a preview is one line.
func sanitizePreview(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, s)
}
