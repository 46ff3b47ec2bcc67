package handlers

import (
	"unicode/utf16"
	"unicode/utf8"
)

// textError says why a JSON body is not exactly representable text, or "".
// encoding/json replaces invalid UTF-8 and lone UTF-16 surrogate escapes
// with U+FFFD while decoding, so a value would be stored other than it was
// sent: the raw body is checked before decoding instead.
func textError(b []byte) string {
	if !utf8.Valid(b) {
		return "must be valid UTF-8"
	}
	if hasLoneSurrogate(b) {
		return `must be valid UTF-8: a \u escape names half of a surrogate pair`
	}
	return ""
}

// hasLoneSurrogate reports a \uD800-\uDFFF escape that is not a high
// surrogate directly followed by an escaped low one. Backslashes occur only
// inside JSON strings, so scanning escapes needs no string tracking.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // an escape of one character, possibly another backslash
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return false // malformed: the decoder reports it
		}
		i += 5
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xDC00 { // a low surrogate first
			return true
		}
		lo, ok := rune(0), i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u'
		if ok {
			lo, ok = hex4(b, i+3)
		}
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return true
		}
		i += 6
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
