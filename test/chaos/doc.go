// Package chaos holds enthub's fault and attack suites: real `enthub serve`
// processes over a PostgreSQL cluster of their own that the tests stop,
// restart, replicate and promote; two instances behind HAProxy; an import
// killed with SIGKILL; a full inbox; dead upstreams; slow and oversized
// clients; credential stuffing.
//
// The short versions run inside ./test/run.sh (a minute or two in all).
// ENTHUB_TEST_CHAOS_LONG=1 makes them longer: more rounds, more clients. Each test
// logs its measured figure with a "figure:" prefix (go test -v shows them),
// and fails on lost data, a crash or a missed target.
package chaos
