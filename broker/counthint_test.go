package broker

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCountHints(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newCountHints()
	if h.take("u", 500, t0) {
		t.Fatal("no hint yet: the create must count")
	}
	h.counted("u", 10, t0) // 10 secrets, plus this create: 11
	for i := range 239 {   // up to 250 secrets (half the cap) without counting
		if !h.take("u", 500, t0.Add(time.Second)) {
			t.Fatalf("create %d (bound %d) had to count", i, 12+i)
		}
	}
	if h.take("u", 500, t0.Add(time.Second)) {
		t.Fatal("a create past half the cap skipped counting")
	}
	if h.take("v", 500, t0) {
		t.Fatal("hint of another user applied")
	}
	h.counted("w", 0, t0)
	if !h.take("w", 500, t0.Add(countHintTTL-time.Nanosecond)) {
		t.Fatal("fresh hint not used")
	}
	if h.take("w", 500, t0.Add(countHintTTL)) {
		t.Fatal("expired hint used")
	}
	if h.take("w", 500, t0.Add(-time.Second)) {
		t.Fatal("hint from the future (clock step) used")
	}
}

// TestCountHintsSmallCap: a cap of 3 never skips counting; with a cap of 4,
// only the second create after a count of 0 does.
func TestCountHintsSmallCap(t *testing.T) {
	t0 := time.Now()
	h := newCountHints()
	h.counted("u", 0, t0) // bound 1
	if h.take("u", 3, t0) {
		t.Fatal("cap 3: a create skipped counting")
	}
	h.counted("v", 0, t0) // bound 1
	if !h.take("v", 4, t0) {
		t.Fatal("cap 4: bound 2 is half the cap, want skip")
	}
	if h.take("v", 4, t0) {
		t.Fatal("cap 4: bound 3 is past half the cap, want count")
	}
}

// TestCountHintsConcurrent: concurrent creates on one replica are all counted
// in the bound, so together they never pass half the cap without counting.
func TestCountHintsConcurrent(t *testing.T) {
	h := newCountHints()
	now := time.Now()
	h.counted("u", 0, now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	skipped := 0
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if h.take("u", 100, now) {
					mu.Lock()
					skipped++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if bound := 1 + skipped; bound != 50 {
		t.Fatalf("bound after concurrent creates %d, want exactly half the cap (50)", bound)
	}
}

func TestCountHintsBounded(t *testing.T) {
	h := newCountHints()
	now := time.Now()
	for i := range maxCountHints + 10 {
		h.counted(fmt.Sprint(i), 0, now)
	}
	if len(h.m) > maxCountHints {
		t.Fatalf("%d hints kept, cap %d", len(h.m), maxCountHints)
	}
}
