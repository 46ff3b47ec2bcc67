package broker

import "strings"

// MaskRune is the character of the fixed-width mask.
const MaskRune = '•'

// maskWidth is the number of mask characters, whatever the value's length:
// the preview must not leak the length.
const maskWidth = 4

// minRevealLen is the shortest value (in characters) that reveals anything.
const minRevealLen = 12

// maxReveal caps what a long value reveals.
const maxReveal = 9

// Mask returns the preview of a value: a prefix and a suffix that together
// reveal at most a quarter of its characters (never more than 9), around a
// fixed-width mask. Values under 12 characters are fully masked.
func Mask(value string) string {
	mask := strings.Repeat(string(MaskRune), maskWidth)
	r := []rune(value)
	if len(r) < minRevealLen {
		return mask
	}
	reveal := min(len(r)/4, maxReveal)
	suffix := reveal / 3
	prefix := reveal - suffix
	return sanitizePreview(string(r[:prefix])) + mask + sanitizePreview(string(r[len(r)-suffix:]))
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
