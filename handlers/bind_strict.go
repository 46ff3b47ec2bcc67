package handlers

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/acme/secretsbroker/broker"
)

// unknownFields returns one FieldError per member of the JSON object b (and
// of the objects nested in it) that the request type of v does not have, in
// a stable order: a client sending a misspelt or unsupported field (say
// "wrap_ttl" on POST /runtimes) must learn that it had no effect. Members
// match fields as encoding/json matches them (case-insensitively).
func unknownFields(b []byte, v any) []broker.FieldError {
	var out []broker.FieldError
	collectUnknown(json.RawMessage(b), reflect.TypeOf(v), "", &out)
	return out
}

func collectUnknown(raw json.RawMessage, t reflect.Type, path string, out *[]broker.FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return // not an object: a type error, reported by the decoder
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			f, ok := jsonField(t, k)
			if !ok {
				*out = append(*out, broker.FieldError{Field: join(path, shownKey(k)), Message: "unknown field: this request has no such field"})
				continue
			}
			collectUnknown(obj[k], f.Type, join(path, jsonName(f)), out)
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return
		}
		for i, it := range items {
			collectUnknown(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// jsonField finds the exported field of struct t that the JSON member name
// decodes into.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		if strings.EqualFold(jsonName(f), name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonName(f reflect.StructField) string {
	if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n != "" {
		return n
	}
	return f.Name
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// shownKey is a member name as an error names it: at most 64 characters,
// control characters replaced.
func shownKey(k string) string {
	r := []rune(k)
	if len(r) > 64 {
		r = append(r[:64], '…')
	}
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, string(r))
}
