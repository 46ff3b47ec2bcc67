package auditlog

import (
	"bytes"
	"slices"
	"time"
)

// Defaults of Options.
const (
	DefaultResponseWait = 2 * time.Second
	DefaultQuiet        = time.Second
	DefaultMaxLine      = 16 << 20
	// groupSpan bounds one broker request in log time: a request id seen
	// again later than this after its first call starts a new request.
	groupSpan = time.Minute
	// maxMalformedSamples is how many malformed line numbers Stats keeps.
	maxMalformedSamples = 5
	// tokenRetention is how long (log time) after its expiry a bootstrap
	// token is remembered while following, to tell a late replay from an
	// unknown token.
	tokenRetention = 24 * time.Hour
)

// Options configure a Stream. Zero values take the defaults.
type Options struct {
	Mounts Mounts
	// Clock is the wall clock Flush judges waiting times by (default time.Now).
	Clock func() time.Time
	// ResponseWait is how long (wall clock) Flush lets a request entry wait
	// for its response entry before emitting it alone.
	ResponseWait time.Duration
	// Quiet is how long (wall clock) Flush keeps a broker request's calls
	// together after the last one arrived, to label them all with the
	// request's action.
	Quiet time.Duration
	// MaxLine is the longest line parsed; longer ones count as malformed.
	MaxLine int
}

// Stats count what a Stream read.
type Stats struct {
	Lines     int `json:"lines"`     // non-blank lines
	Malformed int `json:"malformed"` // lines skipped as malformed
	// MalformedLines are the numbers (1-based, blank lines included) of
	// the first few malformed lines.
	MalformedLines []int `json:"malformed_lines,omitempty"`
	Requests       int   `json:"requests"`
	Responses      int   `json:"responses"`
	Entries        int   `json:"entries"` // calls emitted
	Tokens         int   `json:"tokens"`  // bootstrap (wrapping) tokens minted
}

// Stream turns audit log bytes into entries. Write the log to it (any
// chunking: partial lines are kept until their newline arrives), take
// entries with Flush while following a live log, and call Close at the end.
// A Stream is not safe for concurrent use.
type Stream struct {
	o       Options
	partial []byte
	skip    bool // discarding the rest of an overlong line
	lineNo  int
	stats   Stats

	pending map[string]*pendingReq // request entries by Vault request id
	groups  map[string]*group      // calls by X-Request-Id
	ready   []Entry

	tokens     map[string]*token // by HMAC'd wrapping token
	byAccessor map[string]*token // by HMAC'd accessor
	alerts     []Alert
	lastTime   time.Time // latest entry time in the log
}

type pendingReq struct {
	rec     Record
	arrived time.Time
}

type group struct {
	entries []Entry
	first   time.Time // log time of the first call
	arrived time.Time // wall time the last call arrived
}

// NewStream returns an empty Stream.
func NewStream(o Options) *Stream {
	o.Mounts = o.Mounts.withDefaults()
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.ResponseWait <= 0 {
		o.ResponseWait = DefaultResponseWait
	}
	if o.Quiet <= 0 {
		o.Quiet = DefaultQuiet
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	return &Stream{
		o: o, pending: map[string]*pendingReq{}, groups: map[string]*group{},
		tokens: map[string]*token{}, byAccessor: map[string]*token{},
	}
}

// Write consumes log bytes. It never fails: malformed lines are counted.
func (s *Stream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !s.skip {
				s.partial = append(s.partial, p...)
				if len(s.partial) > s.o.MaxLine {
					s.partial, s.skip = s.partial[:0], true
				}
			}
			break
		}
		if s.skip {
			s.skip = false
			s.lineNo++
			s.malformed()
		} else if len(s.partial)+i > s.o.MaxLine {
			s.partial = s.partial[:0]
			s.lineNo++
			s.malformed()
		} else {
			line := p[:i]
			if len(s.partial) > 0 {
				line = append(s.partial, line...)
			}
			s.line(line)
			s.partial = s.partial[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

// Reset drops a partial line (the followed file was truncated or replaced).
func (s *Stream) Reset() {
	s.partial, s.skip = s.partial[:0], false
}

// AddLine consumes one complete line (without its newline).
func (s *Stream) AddLine(line []byte) { s.line(line) }

func (s *Stream) malformed() {
	s.stats.Malformed++
	if len(s.stats.MalformedLines) < maxMalformedSamples {
		s.stats.MalformedLines = append(s.stats.MalformedLines, s.lineNo)
	}
}

func (s *Stream) line(b []byte) {
	s.lineNo++
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	s.stats.Lines++
	rec, err := ParseLine(b)
	if err != nil {
		s.malformed()
		return
	}
	s.add(rec)
}

func (s *Stream) add(rec Record) {
	if rec.Time.After(s.lastTime) {
		s.lastTime = rec.Time
	}
	id := rec.Req.ID
	if rec.Type == "request" {
		s.stats.Requests++
		if id == "" {
			s.complete(newEntry(&rec, nil, s.o.Mounts))
			return
		}
		if old, ok := s.pending[id]; ok {
			s.complete(newEntry(&old.rec, nil, s.o.Mounts))
		}
		s.pending[id] = &pendingReq{rec: rec, arrived: s.o.Clock()}
		return
	}
	s.stats.Responses++
	var req *Record
	if p, ok := s.pending[id]; ok && id != "" {
		req = &p.rec
		delete(s.pending, id)
	}
	s.complete(newEntry(req, &rec, s.o.Mounts))
}

// complete links a finished call to its bootstrap token, raises its alerts
// and queues it for output.
func (s *Stream) complete(e Entry) {
	e.arrived = s.o.Clock()
	s.link(&e)
	if e.hdrRequestID == "" {
		s.ready = append(s.ready, e)
		return
	}
	g := s.groups[e.hdrRequestID]
	if g != nil && e.Time.Sub(g.first) > groupSpan {
		s.closeGroup(e.hdrRequestID)
		g = nil
	}
	if g == nil {
		g = &group{first: e.Time}
		s.groups[e.hdrRequestID] = g
	}
	g.entries = append(g.entries, e)
	g.arrived = e.arrived
}

// closeGroup labels a broker request's calls with its action and queues them.
func (s *Stream) closeGroup(id string) {
	g := s.groups[id]
	delete(s.groups, id)
	if g == nil {
		return
	}
	best := ActionOther
	for _, e := range g.entries {
		if priority[e.Call] > priority[best] {
			best = e.Call
		}
	}
	// A request about exactly one secret, runtime or sandbox names it on
	// all its calls (the transit calls of a rotation, the KV reads of a
	// provisioning).
	only := func(get func(*Entry) *string) {
		var v string
		for i := range g.entries {
			if x := *get(&g.entries[i]); x != "" {
				if v != "" && x != v {
					return
				}
				v = x
			}
		}
		for i := range g.entries {
			if p := get(&g.entries[i]); *p == "" {
				*p = v
			}
		}
	}
	only(func(e *Entry) *string { return &e.SecretID })
	only(func(e *Entry) *string { return &e.RuntimeID })
	only(func(e *Entry) *string { return &e.SandboxID })
	for i := range g.entries {
		g.entries[i].Action = best
	}
	s.ready = append(s.ready, g.entries...)
}

// Flush returns the calls that are complete by now (wall clock): paired
// ones whose broker request has been quiet for Options.Quiet, and request
// entries that waited Options.ResponseWait for a response. Sorted by time.
func (s *Stream) Flush() []Entry {
	now := s.o.Clock()
	for _, id := range sortedKeys(s.pending) {
		if p := s.pending[id]; now.Sub(p.arrived) >= s.o.ResponseWait {
			delete(s.pending, id)
			s.complete(newEntry(&p.rec, nil, s.o.Mounts))
		}
	}
	for _, id := range sortedKeys(s.groups) {
		if now.Sub(s.groups[id].arrived) >= s.o.Quiet {
			s.closeGroup(id)
		}
	}
	s.pruneTokens()
	return s.take()
}

// pruneTokens forgets tokens that expired more than tokenRetention before
// the latest entry, so that following a log for weeks stays bounded.
func (s *Stream) pruneTokens() {
	cutoff := s.lastTime.Add(-tokenRetention)
	for k, t := range s.tokens {
		if !t.expires.IsZero() && t.expires.Before(cutoff) {
			delete(s.tokens, k)
			if s.byAccessor[t.accessor] == t {
				delete(s.byAccessor, t.accessor)
			}
		}
	}
}

// Close parses a last line without a newline and returns every call not
// yet returned, sorted by time. The Stream can still report Alerts and Stats.
func (s *Stream) Close() []Entry {
	if len(s.partial) > 0 && !s.skip {
		s.line(s.partial)
	}
	s.Reset()
	for _, id := range sortedPendingByTime(s.pending) {
		p := s.pending[id]
		delete(s.pending, id)
		s.complete(newEntry(&p.rec, nil, s.o.Mounts))
	}
	for _, id := range sortedKeys(s.groups) {
		s.closeGroup(id)
	}
	return s.take()
}

func (s *Stream) take() []Entry {
	out := s.ready
	s.ready = nil
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	s.stats.Entries += len(out)
	return out
}

// Stats returns the counts so far.
func (s *Stream) Stats() Stats {
	st := s.stats
	st.MalformedLines = slices.Clone(st.MalformedLines)
	return st
}

// LastTime is the latest entry time read so far (zero before any).
func (s *Stream) LastTime() time.Time { return s.lastTime }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedPendingByTime(m map[string]*pendingReq) []string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return m[a].rec.Time.Compare(m[b].rec.Time) })
	return keys
}
