package console_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/portal/console"
)

// relay is the smallest SMTP server net/smtp talks to: it accepts one
// message and hands over what it was told.
func relay(t *testing.T) (string, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var log strings.Builder
		say := func(s string) { c.Write([]byte(s + "\r\n")) }
		say("220 relay ready")
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			log.WriteString(line)
			switch {
			case inData && line == ".\r\n":
				inData = false
				say("250 queued")
			case inData:
			case strings.HasPrefix(line, "EHLO"), strings.HasPrefix(line, "HELO"):
				say("250 relay")
			case strings.HasPrefix(line, "DATA"):
				inData = true
				say("354 go on")
			case strings.HasPrefix(line, "QUIT"):
				say("221 bye")
				got <- log.String()
				return
			default:
				say("250 ok")
			}
		}
	}()
	return l.Addr().String(), got
}

func TestSMTPMailer(t *testing.T) {
	addr, got := relay(t)
	m := console.SMTPMailer{Addr: addr, From: "ENT <ne-pas-repondre@example.fr>", Now: func() time.Time { return time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC) }}
	if err := m.Send(context.Background(), "lea.dupre@example.org", "Votre compte invité", "Bonjour Léa,\nCode : ABCD\n"); err != nil {
		t.Fatal(err)
	}
	var session string
	select {
	case session = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay got nothing")
	}
	for _, want := range []string{
		"MAIL FROM:<ne-pas-repondre@example.fr>",
		"RCPT TO:<lea.dupre@example.org>",
		"Subject: =?utf-8?q?Votre_compte_invit=C3=A9?=",
		"Content-Type: text/plain; charset=utf-8",
		"Date: Mon, 07 Sep 2026 08:00:00 +0000",
		"Bonjour Léa,",
	} {
		if !strings.Contains(session, want) {
			t.Errorf("the relay was not told %q:\n%s", want, session)
		}
	}
	if err := m.Send(context.Background(), "lea@\r\nBcc: x@example.org", "s", "b"); err == nil {
		t.Errorf("an address with a header injected was sent")
	}
}
