package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisSentinel is Redis with Sentinel on loopback: a master, two replicas and three
// sentinels monitoring the master as MasterName with a quorum of two. A sentinel
// considers the master down after one second without an answer and promotes a
// replica.
type RedisSentinel struct {
	MasterName    string
	SentinelAddrs []string // host:port of each sentinel
	Nodes         []*Redis // Nodes[0] starts as the master; the others replicate it
	sentinels     []*sentinel
}

type sentinel struct {
	addr    string
	dir     string
	logPath string
	p       *proc
}

// SentinelMaster is the master name the harness's sentinels monitor.
const SentinelMaster = "brokermaster"

// StartRedisSentinel starts a master, two replicas and three sentinels, waits until
// every sentinel knows both replicas, and stops them all when the test ends.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	return startRedisSentinel(t)
}

func startRedisSentinel(t tb) *RedisSentinel {
	t.Helper()
	bin, err := findSentinel()
	if err != nil {
		unavailable(t, "%v", err)
		return nil
	}
	start := time.Now()
	rs := &RedisSentinel{MasterName: SentinelMaster}
	master := startRedis(t)
	rs.Nodes = append(rs.Nodes, master)
	for range 2 {
		r := &Redis{dir: t.TempDir(), bin: master.bin}
		r.logPath = filepath.Join(r.dir, "redis.log")
		if r.port, err = freePort(); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		r.setAddr("127.0.0.1", r.port)
		r.extra = []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.port)}
		t.Cleanup(func() { r.cleanup(t) })
		if err := r.boot(); err != nil {
			t.Fatalf("testenv: start replica: %v\n%s", err, logTail(r.logPath))
		}
		rs.Nodes = append(rs.Nodes, r)
	}
	for range 3 {
		s := &sentinel{dir: t.TempDir()}
		s.logPath = filepath.Join(s.dir, "sentinel.log")
		port, err := freePort()
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		s.addr = fmt.Sprintf("127.0.0.1:%d", port)
		cfg := filepath.Join(s.dir, "sentinel.conf")
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 5000
sentinel parallel-syncs %[3]s 2
`, port, s.dir, rs.MasterName, master.port)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if s.p, err = startProc(bin, []string{cfg}, nil, s.dir, s.logPath); err != nil {
			t.Fatalf("testenv: start sentinel: %v", err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("testenv: sentinel log tail (%s):\n%s", s.logPath, logTail(s.logPath))
			}
			s.p.stop()
		})
		rs.sentinels = append(rs.sentinels, s)
		rs.SentinelAddrs = append(rs.SentinelAddrs, s.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := rs.waitSettled(ctx, master.Addr); err != nil {
		t.Fatalf("testenv: Redis Sentinel: %v", err)
	}
	t.Logf("testenv: Redis Sentinel (master %s, 2 replicas, sentinels %v) ready in %s", master.Addr, rs.SentinelAddrs, time.Since(start).Round(time.Millisecond))
	report("sentinel", bin)
	return rs
}

// findSentinel returns Debian's redis-sentinel.
func findSentinel() (string, error) {
	if bin, err := exec.LookPath("redis-sentinel"); err == nil {
		return bin, nil
	}
	return "", errors.New("no redis-sentinel binary (apt-get install redis-sentinel)")
}

// waitSettled waits until every sentinel names master and knows two replicas and
// the other two sentinels.
func (rs *RedisSentinel) waitSettled(ctx context.Context, master string) error {
	last := "no answer yet"
	for {
		ok := 0
		for _, s := range rs.sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: s.addr, DialTimeout: time.Second, ReadTimeout: time.Second})
			m, err := sc.GetMasterAddrByName(ctx, rs.MasterName).Result()
			reps, err2 := sc.Replicas(ctx, rs.MasterName).Result()
			sens, err3 := sc.Sentinels(ctx, rs.MasterName).Result()
			sc.Close()
			switch {
			case err != nil || err2 != nil || err3 != nil:
				last = fmt.Sprint(errors.Join(err, err2, err3))
			case len(m) != 2 || net.JoinHostPort(m[0], m[1]) != master:
				last = fmt.Sprintf("sentinel %s names master %v", s.addr, m)
			case len(reps) < 2 || len(sens) < 2:
				last = fmt.Sprintf("sentinel %s knows %d replicas, %d sentinels", s.addr, len(reps), len(sens))
			default:
				ok++
			}
		}
		if ok == len(rs.sentinels) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sentinels not settled: %s", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Master asks the sentinels which node is the master now and returns its address.
func (rs *RedisSentinel) Master(ctx context.Context) (string, error) {
	var errs []error
	for _, addr := range rs.SentinelAddrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
		m, err := sc.GetMasterAddrByName(ctx, rs.MasterName).Result()
		sc.Close()
		if err == nil && len(m) == 2 {
			return net.JoinHostPort(m[0], m[1]), nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no sentinel names a master: %w", errors.Join(errs...))
}

// MasterNode returns the node that is master now.
func (rs *RedisSentinel) MasterNode(t testing.TB) *Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, err := rs.Master(ctx)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for _, n := range rs.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("testenv: the sentinels' master %s is none of the nodes", addr)
	return nil
}

// Kill sends SIGKILL to a node and waits until it is gone.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	if r.p == nil || r.p.exited() {
		t.Fatalf("testenv: Redis.Kill: not running")
	}
	_ = r.p.cmd.Process.Kill()
	<-r.p.done
}

// WaitFailover waits until the sentinels name a master other than old and it
// answers as a master, and returns its address.
func (rs *RedisSentinel) WaitFailover(ctx context.Context, old string, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if addr, err := rs.Master(ctx); err == nil && addr != old {
			rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
			role, err := rc.Do(ctx, "ROLE").Slice()
			rc.Close()
			if err == nil && len(role) > 0 && role[0] == "master" {
				return addr, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no failover away from %s within %s", old, d)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
