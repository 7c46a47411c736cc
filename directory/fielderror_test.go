package directory_test

import (
	"errors"
	"testing"

	"github.com/enthub/enthub/directory"
)

func TestFieldErrorsErr(t *testing.T) {
	if err := directory.FieldErrors(nil).Err("guest"); err != nil {
		t.Errorf("no refused field gave %v, want nil", err)
	}
	err := directory.FieldErrors{{Field: "code", Code: "required"}, {Field: "name", Code: "too_long"}}.Err("space")
	if want := "invalid space: code: required, name: too_long"; err == nil || err.Error() != want {
		t.Errorf("message %v, want %q", err, want)
	}
	var fe directory.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 2 || fe[1].Field != "name" || fe[1].Code != "too_long" {
		t.Errorf("errors.As found %v", fe)
	}
}
