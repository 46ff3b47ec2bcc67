package handlers

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestContentLengthWithTransferEncoding: a request with both Content-Length
// and Transfer-Encoding (the request-smuggling shape: a proxy that frames by
// Content-Length sees one request, Go's server two) answers 400 and the
// connection is closed, so the request hidden in the body never runs.
func TestContentLengthWithTransferEncoding(t *testing.T) {
	srv := httptest.NewServer(New(Config{}, Deps{Log: zerolog.Nop()}).Handler())
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	smuggled := "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
	body := "0\r\n\r\n" + smuggled
	raw := "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + body
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	var statuses []int
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break // EOF (closed) or the deadline
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses = append(statuses, res.StatusCode)
	}
	if len(statuses) != 1 || statuses[0] != http.StatusBadRequest {
		t.Fatalf("answers %v, want exactly one 400 (the smuggled request must not run)", statuses)
	}
	if _, err := br.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("connection still open after the 400 (read: %v)", err)
	}
}
