package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

const token = "hvs.CAESIContractTestWrappingToken"

func runtimeRoundTrip(t *testing.T, s Subject) {
	c := ctx(t)
	r := Runtime("alice", "rt-1", token)
	must(t, s.Records.PutRuntime(c, r), "PutRuntime")
	if r.Sandbox.Bootstrap == nil || r.Sandbox.Bootstrap.Token != token {
		t.Fatal("PutRuntime changed the caller's runtime (bootstrap)")
	}
	got, err := s.Records.GetRuntime(c, "alice", "rt-1")
	must(t, err, "GetRuntime")
	if got.Sandbox.Bootstrap != nil {
		t.Fatal("stored runtime kept its bootstrap")
	}
	if want := withoutBootstrap(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func runtimeReplace(t *testing.T, s Subject) {
	c := ctx(t)
	r := Runtime("alice", "rt-1", token)
	must(t, s.Records.PutRuntime(c, r), "PutRuntime")
	r2 := Runtime("alice", "rt-1", token+"-2")
	r2.Restarts, r2.Sandbox.ID, r2.SecretIDs = 3, "sb-new", []string{"sec-9"}
	r2.UpdatedAt = r.UpdatedAt.Add(time.Minute)
	must(t, s.Records.PutRuntime(c, r2), "PutRuntime again")
	got, err := s.Records.GetRuntime(c, "alice", "rt-1")
	must(t, err, "GetRuntime")
	if want := withoutBootstrap(r2); !reflect.DeepEqual(got, want) {
		t.Fatalf("replaced runtime:\n got %+v\nwant %+v", got, want)
	}
	list, err := s.Records.ListRuntimes(c, "alice")
	must(t, err, "ListRuntimes")
	if len(list) != 1 || list[0].Restarts != 3 {
		t.Fatalf("ListRuntimes after replace = %+v, want the one replaced runtime", list)
	}
}

func runtimeListDelete(t *testing.T, s Subject) {
	c := ctx(t)
	list, err := s.Records.ListRuntimes(c, "alice")
	must(t, err, "ListRuntimes (none)")
	if list == nil || len(list) != 0 {
		t.Fatalf("ListRuntimes with none = %#v, want an empty, non-nil list", list)
	}
	// Stored out of order; listed by creation time.
	for i, id := range []string{"rt-b", "rt-c", "rt-a"} {
		r := Runtime("alice", id, token)
		r.CreatedAt = r.CreatedAt.Add(map[int]time.Duration{0: 2, 1: 3, 2: 1}[i] * time.Minute)
		must(t, s.Records.PutRuntime(c, r), "PutRuntime "+id)
	}
	list, err = s.Records.ListRuntimes(c, "alice")
	must(t, err, "ListRuntimes")
	if ids := runtimeIDs(list); !reflect.DeepEqual(ids, []string{"rt-a", "rt-b", "rt-c"}) {
		t.Fatalf("ListRuntimes ids = %v, want [rt-a rt-b rt-c] (by creation time)", ids)
	}
	for _, r := range list {
		if r.Sandbox.Bootstrap != nil || r.UserID != "alice" {
			t.Fatalf("listed runtime %s: bootstrap %v, user %q", r.ID, r.Sandbox.Bootstrap, r.UserID)
		}
	}
	must(t, s.Records.DeleteRuntime(c, "alice", "rt-b"), "DeleteRuntime")
	_, err = s.Records.GetRuntime(c, "alice", "rt-b")
	wantCode(t, err, broker.CodeNotFound, "GetRuntime after delete")
	wantCode(t, s.Records.DeleteRuntime(c, "alice", "rt-b"), broker.CodeNotFound, "second DeleteRuntime")
	list, err = s.Records.ListRuntimes(c, "alice")
	must(t, err, "ListRuntimes after delete")
	if ids := runtimeIDs(list); !reflect.DeepEqual(ids, []string{"rt-a", "rt-c"}) {
		t.Fatalf("ListRuntimes after delete = %v, want [rt-a rt-c]", ids)
	}
}

func evaluationRoundTrip(t *testing.T, s Subject) {
	c := ctx(t)
	e := Evaluation("alice", "ev-1", token, 3)
	must(t, s.Records.PutEvaluation(c, e), "PutEvaluation")
	for _, it := range e.Items {
		if it.RuntimeSandbox.Bootstrap == nil || it.TaskSandbox.Bootstrap == nil {
			t.Fatal("PutEvaluation changed the caller's items (bootstrap)")
		}
	}
	got, err := s.Records.GetEvaluation(c, "alice", "ev-1")
	must(t, err, "GetEvaluation")
	if want := evaluationWithoutBootstrap(e); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	_, err = s.Records.GetEvaluation(c, "alice", "ev-absent")
	wantCode(t, err, broker.CodeNotFound, "GetEvaluation absent")
}

func userIsolation(t *testing.T, s Subject) {
	c := ctx(t)
	must(t, s.Records.PutRuntime(c, Runtime("alice", "rt-1", token)), "PutRuntime")
	must(t, s.Records.PutEvaluation(c, Evaluation("alice", "ev-1", token, 1)), "PutEvaluation")

	_, errOther := s.Records.GetRuntime(c, "bob", "rt-1")
	_, errAbsent := s.Records.GetRuntime(c, "bob", "rt-absent")
	sameNotFound(t, errOther, errAbsent, "GetRuntime")
	_, errOther = s.Records.GetEvaluation(c, "bob", "ev-1")
	_, errAbsent = s.Records.GetEvaluation(c, "bob", "ev-absent")
	sameNotFound(t, errOther, errAbsent, "GetEvaluation")
	sameNotFound(t, s.Records.DeleteRuntime(c, "bob", "rt-1"), s.Records.DeleteRuntime(c, "bob", "rt-absent"), "DeleteRuntime")

	list, err := s.Records.ListRuntimes(c, "bob")
	must(t, err, "ListRuntimes bob")
	if len(list) != 0 {
		t.Fatalf("bob lists %v", runtimeIDs(list))
	}
	if _, err := s.Records.GetRuntime(c, "alice", "rt-1"); err != nil {
		t.Fatalf("alice's runtime after bob's delete: %v", err)
	}
}

// sameNotFound asserts that another user's record and an absent one answer the same error.
func sameNotFound(t *testing.T, other, absent error, what string) {
	t.Helper()
	wantCode(t, other, broker.CodeNotFound, what+" of another user's record")
	wantCode(t, absent, broker.CodeNotFound, what+" of an absent record")
	var eo, ea *broker.Error
	if !errors.As(other, &eo) || !errors.As(absent, &ea) || eo.Message != ea.Message || other.Error() != absent.Error() {
		t.Fatalf("%s: another user's record answers %q, an absent one %q", what, other, absent)
	}
}

func recordTTL(t *testing.T, s Subject) {
	c := ctx(t)
	must(t, s.Records.PutRuntime(c, Runtime("alice", "rt-1", token)), "PutRuntime")
	must(t, s.Records.PutEvaluation(c, Evaluation("alice", "ev-1", token, 1)), "PutEvaluation")
	s.Advance(t, s.RecordTTL/2)
	if _, err := s.Records.GetRuntime(c, "alice", "rt-1"); err != nil {
		t.Fatalf("GetRuntime before the TTL: %v", err)
	}
	s.Advance(t, s.RecordTTL/2+s.RecordTTL/4)
	_, err := s.Records.GetRuntime(c, "alice", "rt-1")
	wantCode(t, err, broker.CodeNotFound, "GetRuntime after the TTL")
	_, err = s.Records.GetEvaluation(c, "alice", "ev-1")
	wantCode(t, err, broker.CodeNotFound, "GetEvaluation after the TTL")
	list, err := s.Records.ListRuntimes(c, "alice")
	must(t, err, "ListRuntimes after the TTL")
	if len(list) != 0 {
		t.Fatalf("ListRuntimes after the TTL = %v", runtimeIDs(list))
	}
	wantCode(t, s.Records.DeleteRuntime(c, "alice", "rt-1"), broker.CodeNotFound, "DeleteRuntime after the TTL")
}

func accessorTakeOnce(t *testing.T, s Subject) {
	c := ctx(t)
	must(t, s.Records.PutAccessor(c, "sb-1", "acc-1", time.Hour), "PutAccessor")
	acc, ok, err := s.Records.TakeAccessor(c, "sb-1")
	must(t, err, "TakeAccessor")
	if !ok || acc != "acc-1" {
		t.Fatalf("TakeAccessor = %q, %v; want acc-1, true", acc, ok)
	}
	acc, ok, err = s.Records.TakeAccessor(c, "sb-1")
	must(t, err, "second TakeAccessor")
	if ok || acc != "" {
		t.Fatalf("second TakeAccessor = %q, %v; want nothing", acc, ok)
	}
	_, ok, err = s.Records.TakeAccessor(c, "sb-never")
	must(t, err, "TakeAccessor unknown")
	if ok {
		t.Fatal("TakeAccessor of an unknown sandbox answered ok")
	}
	wantCode(t, s.Records.PutAccessor(c, "sb-2", "acc", 0), broker.CodeInvalid, "PutAccessor without ttl")

	// Concurrent takes: exactly one wins.
	must(t, s.Records.PutAccessor(c, "sb-3", "acc-3", time.Hour), "PutAccessor")
	wins := parallel(16, func() bool {
		_, ok, err := s.Records.TakeAccessor(c, "sb-3")
		return err == nil && ok
	})
	if wins != 1 {
		t.Fatalf("%d concurrent TakeAccessor calls won, want exactly 1", wins)
	}
}

func accessorTTL(t *testing.T, s Subject) {
	c := ctx(t)
	ttl := s.RecordTTL
	must(t, s.Records.PutAccessor(c, "sb-1", "acc-1", ttl), "PutAccessor")
	must(t, s.Records.PutAccessor(c, "sb-2", "acc-2", 10*ttl), "PutAccessor long")
	s.Advance(t, ttl+ttl/4)
	if _, ok, err := s.Records.TakeAccessor(c, "sb-1"); err != nil || ok {
		t.Fatalf("TakeAccessor after the TTL = %v, %v; want nothing", ok, err)
	}
	if acc, ok, err := s.Records.TakeAccessor(c, "sb-2"); err != nil || !ok || acc != "acc-2" {
		t.Fatalf("TakeAccessor before its TTL = %q, %v, %v", acc, ok, err)
	}
}

func runtimeIDs(rs []broker.Runtime) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}
