package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Images used when no local binary exists but a Docker engine answers.
const (
	vaultImage = "hashicorp/vault:1.21.4"
	redisImage = "redis:7"
)

// dockerPingTimeout bounds the check for a Docker engine.
const dockerPingTimeout = 3 * time.Second

// dockerAvailable returns nil when a Docker engine answers a ping.
func dockerAvailable() (err error) {
	defer func() { // testcontainers panics on some host-detection failures
		if r := recover(); r != nil {
			err = fmt.Errorf("docker host detection: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), dockerPingTimeout)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("no Docker client: %w", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("Docker engine does not answer: %w", err)
	}
	return nil
}

// container is a server running under testcontainers-go.
type container struct {
	req     testcontainers.GenericContainerRequest
	port    string // exposed port, e.g. "8200/tcp"
	c       testcontainers.Container
	running bool
}

// start creates and starts the container the first time, restarts it afterwards,
// and returns the host and port its exposed port is mapped to.
func (c *container) start(ctx context.Context) (string, int, error) {
	var err error
	if c.c == nil {
		c.c, err = testcontainers.GenericContainer(ctx, c.req)
	} else {
		err = c.c.Start(ctx)
	}
	if err != nil {
		return "", 0, fmt.Errorf("start container %s: %w", c.req.Image, err)
	}
	c.running = true
	host, err := c.c.Host(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("container host: %w", err)
	}
	for {
		p, err := c.c.MappedPort(ctx, c.port)
		if err == nil {
			return host, int(p.Num()), nil
		}
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("container port %s: %w", c.port, err)
		case <-time.After(pollInterval):
		}
	}
}

func (c *container) stop() {
	if c.c == nil || !c.running {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace+10*time.Second)
	defer cancel()
	grace := stopGrace
	_ = c.c.Stop(ctx, &grace)
	c.running = false
}

func (c *container) terminate() {
	if c.c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.c.Terminate(ctx)
}

// fileLog appends container output to a log file.
type fileLog struct{ path string }

func (l fileLog) Accept(entry testcontainers.Log) {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(entry.Content)
}

func (v *Vault) launchContainer(ctx context.Context) error {
	if v.ctr == nil {
		req := testcontainers.ContainerRequest{
			Image:          vaultImage,
			ExposedPorts:   []string{"8200/tcp"},
			Env:            map[string]string{"SKIP_SETCAP": "true"},
			LogConsumerCfg: &testcontainers.LogConsumerConfig{Consumers: []testcontainers.LogConsumer{fileLog{v.logPath}}},
		}
		if v.raft {
			cfg, err := json.Marshal(map[string]any{
				"storage":       map[string]any{"raft": map[string]any{"path": "/vault/file", "node_id": "testenv"}},
				"listener":      []any{map[string]any{"tcp": map[string]any{"address": "0.0.0.0:8200", "tls_disable": true}}},
				"api_addr":      "http://127.0.0.1:8200",
				"cluster_addr":  "http://127.0.0.1:8201",
				"disable_mlock": true,
			})
			if err != nil {
				return err
			}
			req.Cmd = []string{"server"}
			req.Env["VAULT_LOCAL_CONFIG"] = string(cfg)
		} else {
			req.Env["VAULT_DEV_ROOT_TOKEN_ID"] = v.Token
			req.Env["VAULT_DEV_LISTEN_ADDRESS"] = "0.0.0.0:8200"
		}
		v.ctr = &container{req: testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true}, port: "8200/tcp"}
	}
	host, port, err := v.ctr.start(ctx)
	if err != nil {
		return err
	}
	v.Addr = "http://" + host + ":" + strconv.Itoa(port)
	return nil
}

func (r *Redis) launchContainer(ctx context.Context) error {
	if r.ctr == nil {
		req := testcontainers.ContainerRequest{
			Image:          redisImage,
			ExposedPorts:   []string{"6379/tcp"},
			Cmd:            []string{"redis-server", "--save", "", "--appendonly", "no"},
			LogConsumerCfg: &testcontainers.LogConsumerConfig{Consumers: []testcontainers.LogConsumer{fileLog{r.logPath}}},
		}
		r.ctr = &container{req: testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true}, port: "6379/tcp"}
	}
	host, port, err := r.ctr.start(ctx)
	if err != nil {
		return err
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	r.setAddr(host, port)
	return nil
}
