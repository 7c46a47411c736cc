package directory

import (
	"fmt"
	"strings"
)

// FieldError is one refused input of a form or a command: the form field
// (or command-line argument) it came from and a code naming the problem
// ("required", "too_long", …). The code is no sentence: the consoles show
// the text catalogue's "err.<field>.<code>" beside the field, in French or
// English, and the command line its own wording, so each service (guests,
// spaces) only says what is wrong and where.
type FieldError struct {
	Field string
	Code  string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Code }

// FieldErrors is every refused field of one request, in form order, so a
// page can mark them all at once rather than one per submission.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, ", ")
}

// Err is the refusal of a subject ("guest", "space") for these fields: nil
// when there are none, else an error reading "invalid <subject>: field:
// code, …" in which errors.As finds the FieldErrors.
func (es FieldErrors) Err(subject string) error {
	if len(es) == 0 {
		return nil
	}
	return fmt.Errorf("invalid %s: %w", subject, es)
}
