package main

import (
	"errors"
	"net/url"
	"strings"

	"github.com/acme/secretsbroker/client"
)

// newAPIClient checks the flags and returns an SDK client that sends the key
// as a bearer token and never follows redirects. Errors are usage errors.
func newAPIClient(f brokerFlags) (*client.Client, error) {
	if f.APIKey == "" {
		return nil, usagef("no API key: set BROKER_API_KEY (or --api-key)")
	}
	c, err := client.New(f.URL, f.APIKey, client.WithTimeout(f.Timeout), client.WithBearer(), client.WithUserAgent("brokerctl"))
	switch {
	case errors.Is(err, client.ErrBadURL):
		return nil, usagef("broker URL %q is malformed: want http(s)://host[:port] (--url or BROKER_URL)", redactURL(f.URL))
	case errors.Is(err, client.ErrBadKey):
		return nil, usagef("the API key contains whitespace or control characters")
	case err != nil:
		return nil, err
	}
	return c, nil
}

// redactURL drops userinfo from a URL before it is shown; a value holding
// "@" that does not parse is not shown at all.
func redactURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err == nil && u.User != nil:
		u.User = nil
		return u.String()
	case err != nil && strings.Contains(s, "@"):
		return "(not shown: it may hold credentials)"
	}
	return s
}

// errorText is err's one-line text, with a hint when the broker did not
// answer within --timeout.
func errorText(err error) string {
	var te *client.TransportError
	if errors.As(err, &te) && te.Timeout() {
		return te.Method + " " + te.URL + ": timed out (see --timeout)"
	}
	return err.Error()
}
