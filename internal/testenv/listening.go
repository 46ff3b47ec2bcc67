package testenv

import (
	"bufio"
	"encoding/json"
	"strings"
)

// ListenURLs finds brokerd's (or egressd's) "listening" log line in logs and
// returns the URL of its API and of its admin listener ("" when the admin
// listener is not enabled); both "" until the line is there.
func ListenURLs(logs string) (api, admin string) {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg   string `json:"message"`
			Addr  string `json:"addr"`
			Admin string `json:"admin_addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.Addr != "" {
			if line.Admin != "" {
				admin = "http://" + line.Admin
			}
			return "http://" + line.Addr, admin
		}
	}
	return "", ""
}
