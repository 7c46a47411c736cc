package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet when passing"); t.Log("[figures] 42 logins/s") }

func TestFails(t *testing.T) { t.Error("the visible failure") }

func TestSkips(t *testing.T) { t.Skip("SKIP: peer frobnicator missing") }

func TestParent(t *testing.T) {
	t.Run("child", func(t *testing.T) {})
}
