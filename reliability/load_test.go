//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// result is one request the load sent.
type result struct {
	Op         string
	Start, End time.Time
	A          answer
}

func (r result) latency() time.Duration { return r.End.Sub(r.Start) }

// ack is a create or rotate the broker acknowledged: this version of the
// secret holds value (fingerprint as answered).
type ack struct {
	User        user
	ID, Name    string
	Version     int
	Fingerprint string
	Value       string
}

// mix weighs the load's operations.
type mix struct{ List, Get, Create, Rotate, Provision int }

var (
	faultMix  = mix{List: 2, Get: 3, Create: 3, Rotate: 3, Provision: 1}
	secretMix = mix{List: 2, Get: 3, Create: 3, Rotate: 3}
	createMix = mix{Create: 1}
	soakMix   = mix{List: 3, Get: 3, Create: 2, Rotate: 2, Provision: 1}
)

// load drives workers against the broker, one user per worker, and records
// every request and every acknowledged write.
type load struct {
	api   *api
	users []user
	mix   mix
	pace  time.Duration // pause between a worker's requests

	mu      sync.Mutex
	results []result
	acks    map[string]ack // by secret id: the latest acknowledged version
	names   map[string]user
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

func newLoad(a *api, users []user, m mix, pace time.Duration) *load {
	return &load{api: a, users: users, mix: m, pace: pace, acks: map[string]ack{}, names: map[string]user{}}
}

// start launches one worker per user until stop.
func (l *load) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for i, u := range l.users {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			w := &worker{l: l, u: u, tag: fmt.Sprintf("W%d_%s", i, strings.ToUpper(randHex(3)))}
			for ctx.Err() == nil {
				w.step()
				if l.pace > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(l.pace):
					}
				}
			}
		}()
	}
}

// stop ends the load and waits for in-flight requests.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *load) record(op string, start time.Time, a answer) {
	l.mu.Lock()
	l.results = append(l.results, result{Op: op, Start: start, End: time.Now(), A: a})
	l.mu.Unlock()
}

func (l *load) acked(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.acks[a.ID]; !ok || a.Version >= cur.Version {
		l.acks[a.ID] = a
	}
}

// snapshot returns the results so far.
func (l *load) snapshot() []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]result(nil), l.results...)
}

func (l *load) ackList() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ack, 0, len(l.acks))
	for _, a := range l.acks {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// attempted returns every name a create was sent for, with its user.
func (l *load) attempted() map[string]user {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]user, len(l.names))
	for k, v := range l.names {
		out[k] = v
	}
	return out
}

type worker struct {
	l    *load
	u    user
	tag  string
	n    int
	mine []string // ids of this worker's secrets
}

type secretJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"`
}

func (w *worker) step() {
	m := w.l.mix
	total := m.List + m.Get + m.Create + m.Rotate + m.Provision
	x := rand.IntN(total)
	switch {
	case len(w.mine) == 0 || x < m.Create:
		w.create()
	case x < m.Create+m.Rotate:
		w.rotate()
	case x < m.Create+m.Rotate+m.Get:
		w.get()
	case x < m.Create+m.Rotate+m.Get+m.List:
		w.list()
	default:
		w.provision()
	}
}

func newValue() string {
	v := "rv-" + randHex(16)
	planted.add(v)
	return v
}

func (w *worker) create() {
	w.n++
	name := fmt.Sprintf("REL_%s_%d", w.tag, w.n)
	value := newValue()
	w.l.mu.Lock()
	w.l.names[name] = w.u
	w.l.mu.Unlock()
	start := time.Now()
	a := w.l.api.do(w.u.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": name, "value": value})
	w.l.record("create", start, a)
	var s secretJSON
	if a.Status == 201 && a.decode(&s) == nil {
		w.mine = append(w.mine, s.ID)
		w.l.acked(ack{User: w.u, ID: s.ID, Name: name, Version: s.Version, Fingerprint: s.Fingerprint, Value: value})
	}
}

func (w *worker) rotate() {
	id := w.mine[rand.IntN(len(w.mine))]
	value := newValue()
	start := time.Now()
	a := w.l.api.do(w.u.Key, "PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value})
	w.l.record("rotate", start, a)
	var s secretJSON
	if a.Status == 200 && a.decode(&s) == nil {
		w.l.acked(ack{User: w.u, ID: s.ID, Name: s.Name, Version: s.Version, Fingerprint: s.Fingerprint, Value: value})
	}
}

func (w *worker) get() {
	start := time.Now()
	a := w.l.api.do(w.u.Key, "GET", "/api/v1/user/secrets/"+w.mine[rand.IntN(len(w.mine))], nil)
	w.l.record("get", start, a)
}

func (w *worker) list() {
	start := time.Now()
	a := w.l.api.do(w.u.Key, "GET", "/api/v1/user/secrets", nil)
	w.l.record("list", start, a)
}

func (w *worker) provision() {
	ids := []string{w.mine[rand.IntN(len(w.mine))]}
	if len(w.mine) > 1 {
		if o := w.mine[rand.IntN(len(w.mine))]; o != ids[0] {
			ids = append(ids, o)
		}
	}
	start := time.Now()
	a := w.l.api.do(w.u.Key, "POST", "/api/v1/runtimes", map[string]any{"project_id": "reliability", "secret_ids": ids})
	w.l.record("provision", start, a)
	var rt struct {
		ID string `json:"id"`
	}
	if a.Status == 201 && a.decode(&rt) == nil {
		start = time.Now()
		w.l.record("deprovision", start, w.l.api.do(w.u.Key, "DELETE", "/api/v1/runtimes/"+rt.ID, nil))
	}
}

// stats summarises results.
type stats struct {
	n          int
	maxLatency time.Duration
	byOutcome  map[string]int // "201", "503 unavailable", "transport", ...
}

func summarize(rs []result) stats {
	s := stats{n: len(rs), byOutcome: map[string]int{}}
	for _, r := range rs {
		s.maxLatency = max(s.maxLatency, r.latency())
		s.byOutcome[outcome(r.A)]++
	}
	return s
}

func outcome(a answer) string {
	switch {
	case a.Err != nil:
		return "transport"
	case a.Type != "":
		return fmt.Sprintf("%d %s", a.Status, a.Type)
	default:
		return fmt.Sprint(a.Status)
	}
}

func (s stats) String() string {
	var parts []string
	for k, v := range s.byOutcome {
		parts = append(parts, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// between returns the results whose request started or ended in [from, to).
func between(rs []result, from, to time.Time) []result {
	var out []result
	for _, r := range rs {
		if r.End.After(from) && r.Start.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// failures returns the results that are not 2xx.
func failures(rs []result) []result {
	var out []result
	for _, r := range rs {
		if !r.A.ok() {
			out = append(out, r)
		}
	}
	return out
}
