package auditlog

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStreamScenarioTimeline(t *testing.T) {
	entries, s := readAll(t, scenarioLog(t))
	st := s.Stats()
	if st.Malformed != 0 || st.Requests != 60 || st.Responses != 58 || st.Entries != len(entries) || st.Tokens != 3 {
		t.Fatalf("stats %+v (entries %d)", st, len(entries))
	}
	want := map[string]Action{
		"req-create": ActionCreate, "req-rotate": ActionRotate, "req-list": ActionList,
		"req-provision": ActionProvision, "req-provision-unused": ActionProvision,
		"req-provision-revoked": ActionProvision, "req-runtime-delete": ActionRevoke, "req-delete": ActionDelete,
	}
	seen := map[string]int{}
	for i, e := range entries {
		if i > 0 && e.Time.Before(entries[i-1].Time) {
			t.Fatalf("entry %d out of order", i)
		}
		if e.RequestID == "" {
			continue
		}
		if e.User != scenarioUser {
			t.Errorf("%s %s: user %q", e.RequestID, e.Path, e.User)
		}
		if e.Via == ViaToken {
			continue
		}
		seen[e.RequestID]++
		if a, ok := want[e.RequestID]; !ok || e.Action != a {
			t.Errorf("%s %s: action %s, want %s", e.RequestID, e.Path, e.Action, a)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("no entry of request %s", id)
		}
	}
	// The calls of the rotation: the data write is the rotate itself; the
	// transit calls are labelled rotate and name the secret.
	var calls []string
	for _, e := range entries {
		if e.RequestID == "req-rotate" {
			calls = append(calls, string(e.Call))
			if e.SecretID != scenarioSecret {
				t.Errorf("rotate call %s names secret %q", e.Path, e.SecretID)
			}
		}
	}
	if got := strings.Join(calls, ","); got != "read,encrypt,hmac,read,rotate,write" {
		t.Errorf("rotate calls %s", got)
	}
}

func TestStreamLinksTheBootstrapToken(t *testing.T) {
	entries, _ := readAll(t, scenarioLog(t))
	var got []string
	for _, e := range entries {
		if e.Call != ActionUnwrap && e.Call != ActionLookup {
			continue
		}
		if e.Via != ViaToken || e.User != scenarioUser || e.RequestID != "req-provision" || e.SandboxID != scenarioUsed || e.RuntimeID == "" {
			t.Errorf("%s at %s not linked to its token: %+v", e.Call, e.Time, e)
		}
		got = append(got, string(e.Call)+":"+e.Outcome)
	}
	if want := "lookup:ok,unwrap:ok,unwrap:error,lookup:error"; strings.Join(got, ",") != want {
		t.Fatalf("sandbox calls %v, want %s", got, want)
	}
	// The wrapped read says what it minted.
	var wrapped []Entry
	for _, e := range entries {
		if e.Wrapped != nil {
			wrapped = append(wrapped, e)
		}
	}
	if len(wrapped) != 3 || wrapped[0].Wrapped.Accessor != scenarioUsedAcc || wrapped[0].Wrapped.TTLSeconds != 300 ||
		wrapped[0].Wrapped.CreationPath != "broker/data/sandboxes/"+scenarioUsed {
		t.Fatalf("wrapped reads %+v", wrapped)
	}
}

func TestStreamAlerts(t *testing.T) {
	_, s := readAll(t, scenarioLog(t))
	kinds := func(as []Alert) string {
		var out []string
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s/%s/%s", a.Kind, a.Reason, a.SandboxID))
		}
		return strings.Join(out, " ")
	}
	// At the end of the log no token has expired yet.
	as := s.Alerts(time.Time{})
	want := "failed_unwrap/replay/" + scenarioUsed + " failed_unwrap/replay/" + scenarioUsed + " permission_denied//" + scenarioUsed
	if got := kinds(as); got != want {
		t.Fatalf("alerts:\n got %s\nwant %s", got, want)
	}
	replay := as[0]
	if replay.User != scenarioUser || replay.RequestID != "req-provision" || replay.Accessor != scenarioUsedAcc ||
		!strings.HasPrefix(replay.Message, "REPLAY") || replay.RemoteAddress == "" {
		t.Fatalf("replay alert %+v", replay)
	}
	// Ten minutes later the unused token has expired; the revoked one and
	// the unwrapped one are no alert.
	as = s.Alerts(s.LastTime().Add(10 * time.Minute))
	if got := kinds(as); got != want+" expired_unused//"+scenarioUnused {
		t.Fatalf("alerts later: %s", got)
	}
	exp := as[3]
	if exp.User != scenarioUser || exp.RequestID != "req-provision-unused" || exp.Path != "broker/data/sandboxes/"+scenarioUnused {
		t.Fatalf("expired alert %+v", exp)
	}
}

// Any chunking of the input yields the same timeline.
func TestStreamChunking(t *testing.T) {
	b := scenarioLog(t)
	whole, _ := readAll(t, b)
	for _, size := range []int{1, 7, 4096} {
		s := NewStream(Options{})
		for p := b; len(p) > 0; {
			n := min(size, len(p))
			s.Write(p[:n])
			p = p[n:]
		}
		got := s.Close()
		if len(got) != len(whole) {
			t.Fatalf("chunk %d: %d entries, want %d", size, len(got), len(whole))
		}
		for i := range got {
			got[i].arrived, whole[i].arrived = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got[i], whole[i]) {
				t.Fatalf("chunk %d: entry %d differs:\n%+v\n%+v", size, i, got[i], whole[i])
			}
		}
	}
	// A last line without its newline is read at Close.
	_, s := readAll(t, bytes.TrimRight(b, "\n"))
	if st := s.Stats(); st.Responses != 58 {
		t.Fatalf("without the final newline: %+v", st)
	}
}

func TestStreamMalformedLinesAreCounted(t *testing.T) {
	ls := lines(scenarioLog(t))
	var b bytes.Buffer
	for i, l := range ls {
		b.Write(l)
		b.WriteByte('\n')
		switch i {
		case 3:
			b.WriteString("garbage\n\n") // plus a blank line: not counted
		case 10:
			b.WriteString(`{"type":"request","time":"2026-11-28T13:00:05Z","request":{"id":"x"`) // cut
			b.WriteString("\n")
		case 20:
			b.Write(l[:len(l)/2]) // half a line
			b.WriteString("\n\x00\xff\n")
		}
	}
	b.WriteString(`{"truncated":`) // at EOF, no newline
	whole, _ := readAll(t, scenarioLog(t))
	got, s := readAll(t, b.Bytes())
	st := s.Stats()
	if st.Malformed != 5 || len(got) != len(whole) {
		t.Fatalf("stats %+v, %d entries (want 5 malformed, %d entries)", st, len(got), len(whole))
	}
	if want := []int{5, 14, 25, 26, 124}; !reflect.DeepEqual(st.MalformedLines, want) {
		t.Fatalf("malformed lines %v, want %v", st.MalformedLines, want)
	}
}

func TestStreamOverlongLine(t *testing.T) {
	s := NewStream(Options{MaxLine: 64})
	ls := lines(scenarioLog(t))
	s.Write([]byte(strings.Repeat("x", 200) + "\n"))
	s.Write([]byte(strings.Repeat("y", 50)))
	s.Write([]byte(strings.Repeat("y", 50) + "\n"))
	s.Write(append(ls[0], '\n')) // longer than 64 too
	s.Close()
	if st := s.Stats(); st.Malformed != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// While following, Flush emits a broker request's calls once it has been
// quiet, and a request entry alone once its response is overdue.
func TestStreamFlush(t *testing.T) {
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewStream(Options{Clock: clk.Now, Quiet: time.Second, ResponseWait: 2 * time.Second})
	ls := lines(scenarioLog(t))
	var reqCreate []int
	for i, l := range ls {
		if bytes.Contains(l, []byte(`"req-create"`)) {
			reqCreate = append(reqCreate, i)
		}
	}
	// Feed up to the end of the create request.
	for _, l := range ls[:reqCreate[len(reqCreate)-1]+1] {
		s.AddLine(l)
	}
	for _, e := range s.Flush() {
		if e.RequestID != "" {
			t.Fatalf("request call emitted before the request was quiet: %+v", e)
		}
	}
	clk.Advance(1500 * time.Millisecond)
	var creates int
	for _, e := range s.Flush() {
		if e.RequestID == "req-create" {
			creates++
			if e.Action != ActionCreate {
				t.Fatalf("create call labelled %s", e.Action)
			}
		}
	}
	if creates != 6 {
		t.Fatalf("%d create calls flushed, want 6", creates)
	}
	// A lone request entry (the replayed unwrap) waits for its response.
	var replay []byte
	for _, l := range ls {
		if bytes.Contains(l, []byte(`"wrapping token is not valid`)) && bytes.Contains(l, []byte(`sys/wrapping/unwrap`)) {
			replay = l
		}
	}
	s.AddLine(replay)
	if got := s.Flush(); len(got) != 0 {
		t.Fatalf("lone request emitted at once: %+v", got)
	}
	clk.Advance(2 * time.Second)
	// (The first line of the log, sys/audit/test, never got its response.)
	got := s.Flush()
	if len(got) != 2 || got[0].Path != "sys/audit/test" {
		t.Fatalf("flushed %+v", got)
	}
	got = got[1:]
	if !got[0].NoResponse || got[0].Call != ActionUnwrap || got[0].Error == "" {
		t.Fatalf("lone request after the wait: %+v", got)
	}
}

// Following for long, tokens that expired a day before the latest entry
// are forgotten.
func TestStreamPrunesOldTokens(t *testing.T) {
	s := NewStream(Options{})
	s.Write(scenarioLog(t))
	s.Flush()
	if len(s.tokens) != 3 {
		t.Fatalf("%d tokens", len(s.tokens))
	}
	late := fmt.Sprintf(`{"type":"request","time":%q,"request":{"id":"late","path":"sys/mounts","operation":"read"}}`,
		s.LastTime().Add(25*time.Hour).Format(time.RFC3339Nano))
	s.AddLine([]byte(late))
	s.Flush()
	if len(s.tokens) != 0 || len(s.byAccessor) != 0 {
		t.Fatalf("%d tokens, %d accessors kept", len(s.tokens), len(s.byAccessor))
	}
}
