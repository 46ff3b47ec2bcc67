package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
)

// Servers listen below the kernel's ephemeral range (32768-60999 by default
// on Linux). A port the kernel hands out with ":0" is also one it hands out
// as the local port of outgoing connections, so a server that stops and
// starts again on "its" port can find it taken by some client's connection
// meanwhile. Ports in [portLow, portHigh) are never chosen for those.
const (
	portLow  = 20000
	portHigh = 32000
)

// freePort returns a loopback port outside the ephemeral range that was free
// a moment ago.
func freePort() (int, error) {
	var lastErr error
	for range 100 {
		port := portLow + rand.IntN(portHigh-portLow)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			lastErr = err
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("reserve loopback port: no free port in [%d, %d): %w", portLow, portHigh, lastErr)
}

// FreeAddr returns "127.0.0.1:<port>" for a loopback port outside the
// ephemeral range that was free a moment ago, for a server a test starts
// itself (a brokerd process, its admin listener).
func FreeAddr(t tb) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
