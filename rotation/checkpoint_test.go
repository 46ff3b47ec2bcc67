package rotation

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	h2 := checkpointHeader("broker", "transit", "k", 2)
	cp, err := openCheckpoint(path, h2)
	if err != nil || cp.stale || len(cp.done) != 0 {
		t.Fatalf("new: %+v, %v", cp, err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := cp.markDone(u); err != nil {
			t.Fatal(err)
		}
	}
	cp.close()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v, %v", st.Mode(), err)
	}

	// A torn last line (crash mid-write) does not count.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("caro")
	f.Close()
	cp, err = openCheckpoint(path, h2)
	if err != nil || !cp.isDone("alice") || !cp.isDone("bob") || cp.isDone("caro") || cp.stale {
		t.Fatalf("reopen: %+v, %v", cp.done, err)
	}
	if err := cp.markDone("carol"); err != nil {
		t.Fatal(err)
	}
	cp.close()
	cp, _ = openCheckpoint(path, h2)
	if !cp.isDone("carol") || cp.isDone("caro") || cp.isDone("carocarol") {
		t.Fatalf("after torn line and append: %v", cp.done)
	}
	cp.close()

	// Another target version: started afresh.
	cp, err = openCheckpoint(path, checkpointHeader("broker", "transit", "k", 3))
	if err != nil || !cp.stale || len(cp.done) != 0 {
		t.Fatalf("other target: %+v, %v", cp, err)
	}
	cp.close()
	b, _ := os.ReadFile(path)
	if string(b) != checkpointHeader("broker", "transit", "k", 3)+"\n" {
		t.Fatalf("reset file: %q", b)
	}

	var nilCP *checkpoint
	if nilCP.isDone("x") || nilCP.markDone("x") != nil {
		t.Fatal("nil checkpoint")
	}
	nilCP.close()

	if _, err := openCheckpoint(filepath.Join(t.TempDir(), "missing", "state"), h2); err == nil {
		t.Fatal("unwritable state file accepted")
	}
}
