// Command enthub is the identity federation and directory-sync hub of a
// school ENT: one binary, with subcommands to serve, import the AAF, inspect
// the directory and manage guests and keys. This package only wires the
// other packages together and parses flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

// Exit codes, a contract with operators and scripts.
const (
	exitOK      = 0
	exitFailed  = 1 // refused or failed, with a reason
	exitUsage   = 2 // bad flags or arguments
	exitAborted = 130
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// refused is an outcome that is not a crash: a bad delivery, a bad config.
// The reason has already been printed; the command exits 1.
var errRefused = errors.New("refused")

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	app := &app{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if app.stopProfile != nil {
		app.stopProfile()
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if !errors.Is(ee.err, errRefused) {
			fmt.Fprintf(stderr, "enthub: %v\n", ee.err)
		}
		if ee.code == exitUsage {
			fmt.Fprintln(stderr, "Run 'enthub --help' for usage.")
		}
		return ee.code
	case errors.Is(err, errRefused):
		return exitFailed
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "enthub: interrupted: %v\n", err)
		return exitAborted
	default:
		fmt.Fprintf(stderr, "enthub: %v\n", err)
		return exitFailed
	}
}
