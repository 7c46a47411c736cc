package peer

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// StartOnFreePort starts the daemon cmd(port) on a free 127.0.0.1 port and waits until it listens;
// it tries another port when the daemon's log says its port was taken meanwhile. It returns
// "127.0.0.1:port".
func StartOnFreePort(t testing.TB, name string, cmd func(port int) *exec.Cmd) string {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := FreePort(t)
		p := StartProcess(t, name, cmd(port))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		err := waitTCP(p, addr, 30*time.Second)
		if err == nil {
			return addr
		}
		if !portTaken(p) || attempt >= 3 {
			t.Fatalf("%s: %v\n%s", name, err, p.Tail(40))
		}
	}
}
