package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// OIDCRP is panva's openid-client (OpenID Certified), run with the machine's Node.js through
// test/peer/oidcrp/rp.mjs: a relying party that enthub's code shares nothing with. ./test/run.sh
// installs it there (npm ci, the exact versions of package-lock.json); the tests play the browser.
type OIDCRP struct {
	node, script string
}

// OpenIDClient returns the relying party, or stops the test through Need when Node.js or the npm
// install is missing.
func OpenIDClient(t testing.TB) *OIDCRP {
	t.Helper()
	node, ok := LookBinary("node")
	Need(t, "node", ok, "Node.js (node) not found on PATH")
	dir := filepath.Join(RepoRoot(t), "test", "peer", "oidcrp")
	_, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client", "package.json"))
	Need(t, "openid-client", err == nil, "npm package not installed in test/peer/oidcrp (./test/run.sh runs npm ci there)")
	return &OIDCRP{node: node, script: filepath.Join(dir, "rp.mjs")}
}

// Step runs one step of rp.mjs with input as JSON on stdin and decodes the JSON line it prints
// into out. A step that fails (the library refused something) fails the test with what it said.
func (rp *OIDCRP) Step(t testing.TB, step string, input, out any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rp.node, rp.script, step)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("openid-client %s: %v\n%s%s", step, err, stdout, stderr.String())
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout), out); err != nil {
		t.Fatalf("openid-client %s: output %q: %v", step, stdout, err)
	}
}

// Running is a step that goes on while the test acts (rp.mjs native): Next reads its next line.
type Running struct {
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	stderr *bytes.Buffer
}

// Start starts a step with input as JSON on stdin; it is killed when the test ends.
func (rp *OIDCRP) Start(t testing.TB, step string, input any) *Running {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rp.node, rp.script, step)
	cmd.Stdin = bytes.NewReader(in)
	r := &Running{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = r.stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("openid-client %s: %v", step, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r.lines = bufio.NewScanner(pipe)
	r.lines.Buffer(make([]byte, 1<<20), 1<<20)
	return r
}

// Next decodes the step's next output line into out.
func (r *Running) Next(t testing.TB, out any) {
	t.Helper()
	if !r.lines.Scan() {
		r.cmd.Wait()
		t.Fatalf("openid-client: no more output (%v)\n%s", r.lines.Err(), r.stderr.String())
	}
	line := r.lines.Bytes()
	if err := json.Unmarshal(line, out); err != nil {
		t.Fatalf("openid-client: output %q: %v", line, err)
	}
	if strings.Contains(string(line), `"failed"`) {
		t.Fatalf("openid-client: %s", line)
	}
}
