package console

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"time"
)

// SMTPMailer sends mail through a relay with net/smtp (STARTTLS when the
// relay offers it; PLAIN authentication when Username is set, which
// net/smtp only allows over TLS or to localhost).
type SMTPMailer struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
	Now      func() time.Time
}

// Send writes one plain-text UTF-8 message to to.
func (m SMTPMailer) Send(_ context.Context, to, subject, body string) error {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("mail to %q: %w", to, err)
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("mail from %q: %w", m.From, err)
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
		from.String(), rcpt.String(), mime.QEncoding.Encode("utf-8", subject), now().Format(time.RFC1123Z))
	msg.WriteString(body)
	var auth smtp.Auth
	if m.Username != "" {
		host, _, _ := net.SplitHostPort(m.Addr)
		auth = smtp.PlainAuth("", m.Username, m.Password, host)
	}
	if err := smtp.SendMail(m.Addr, auth, from.Address, []string{rcpt.Address}, msg.Bytes()); err != nil {
		return fmt.Errorf("mail to %s through %s: %w", rcpt.Address, m.Addr, err)
	}
	return nil
}
