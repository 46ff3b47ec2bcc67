package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"time"
)

// netLab is a bridge on the host and one network namespace per node, each
// joined to the bridge by a veth pair: the nodes reach each other (and the
// host reaches them) through the bridge, so one can be cut off by taking its
// veth down. Needs root and iproute2's `ip`.
type netLab struct {
	bridge string
	nodes  []netNode
}

type netNode struct {
	ns, hostIf, ip string
}

// netnsAvailable says why network namespaces cannot be used here, or nil.
func netnsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root (ip netns add)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("no ip command (iproute2)")
	}
	return nil
}

func ipCmd(args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("ip %s: timed out", strings.Join(args, " "))
	}
}

// newNetLab creates the bridge and n namespaces on a random 10.x.y.0/24.
func newNetLab(n int) (*netLab, error) {
	id := randomHex(3)
	subnet := fmt.Sprintf("10.%d.%d", 200+rand.IntN(50), rand.IntN(250))
	l := &netLab{bridge: "tbr" + id}
	steps := [][]string{
		{"link", "add", l.bridge, "type", "bridge"},
		{"addr", "add", subnet + ".1/24", "dev", l.bridge},
		{"link", "set", l.bridge, "up"},
	}
	for i := range n {
		nn := netNode{ns: fmt.Sprintf("tns%s-%d", id, i), hostIf: fmt.Sprintf("th%s%d", id, i), ip: fmt.Sprintf("%s.%d", subnet, i+2)}
		nsIf := fmt.Sprintf("tn%s%d", id, i)
		l.nodes = append(l.nodes, nn)
		steps = append(steps,
			[]string{"netns", "add", nn.ns},
			[]string{"link", "add", nn.hostIf, "type", "veth", "peer", "name", nsIf},
			[]string{"link", "set", nsIf, "netns", nn.ns},
			[]string{"link", "set", nn.hostIf, "master", l.bridge},
			[]string{"link", "set", nn.hostIf, "up"},
			[]string{"-n", nn.ns, "addr", "add", nn.ip + "/24", "dev", nsIf},
			[]string{"-n", nn.ns, "link", "set", nsIf, "up"},
			[]string{"-n", nn.ns, "link", "set", "lo", "up"},
			[]string{"-n", nn.ns, "route", "add", "default", "via", subnet + ".1"},
		)
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			l.close()
			return nil, err
		}
	}
	return l, nil
}

// cut takes node i's link down: it can reach no other node and nothing reaches it.
func (l *netLab) cut(i int) error { return ipCmd("link", "set", l.nodes[i].hostIf, "down") }

// heal brings node i's link back.
func (l *netLab) heal(i int) error { return ipCmd("link", "set", l.nodes[i].hostIf, "up") }

// close removes the namespaces (and with them the veth pairs) and the bridge.
func (l *netLab) close() {
	for _, n := range l.nodes {
		_ = ipCmd("netns", "del", n.ns)
	}
	_ = ipCmd("link", "del", l.bridge)
}
