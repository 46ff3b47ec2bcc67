package broker

import (
	"testing"
	"time"
)

func TestCheckWrapTTL(t *testing.T) {
	for ttl, ok := range map[time.Duration]bool{
		0: false, 999 * time.Millisecond: false, time.Second: true, 5 * time.Minute: true,
		24 * time.Hour: true, 24*time.Hour + time.Second: false, 25 * time.Hour: false, -time.Minute: false,
	} {
		err := CheckWrapTTL(ttl)
		if (err == nil) != ok {
			t.Errorf("CheckWrapTTL(%s) = %v, want ok=%t", ttl, err, ok)
		}
		if err != nil && ErrorCode(err) != CodeInvalid {
			t.Errorf("CheckWrapTTL(%s): code %v, want invalid", ttl, ErrorCode(err))
		}
	}
}
