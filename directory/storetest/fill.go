package storetest

import (
	"reflect"
	"testing"
	"time"
)

// Fill sets every field of the struct v points to (a directory.Person, an
// Account…) to a value of its own, different from every other field's: a
// string field holds its name, a time field a date of its own. A test that
// converts the filled value can then tell which fields the conversion
// carries, which is how a field added to the model but forgotten by the
// export or by "my data" is caught. A field of a kind Fill does not know
// fails the test, so that a new kind of field is not silently left zero.
func Fill(t testing.TB, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		t.Fatalf("storetest.Fill: want a pointer to a struct, got %T", v)
	}
	s := rv.Elem()
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	timeType := reflect.TypeFor[time.Time]()
	for i := range s.NumField() {
		f, sf := s.Field(i), s.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		at := base.AddDate(0, 0, i+1)
		switch {
		case f.Kind() == reflect.String:
			f.SetString(sf.Name + "-value")
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanInt():
			f.SetInt(int64(i + 1))
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(at))
		case f.Kind() == reflect.Pointer && f.Type().Elem() == timeType:
			f.Set(reflect.ValueOf(&at))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			e := reflect.New(f.Type().Elem()).Elem()
			e.SetString(sf.Name + "-value")
			f.Set(reflect.Append(reflect.MakeSlice(f.Type(), 0, 1), e))
		case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String &&
			f.Type().Elem().Kind() == reflect.Slice && f.Type().Elem().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf(map[string][]string{sf.Name + "-key": {sf.Name + "-value"}}).Convert(f.Type()))
		default:
			t.Fatalf("storetest.Fill: %s.%s is a %s: teach Fill a value for it", s.Type(), sf.Name, f.Type())
		}
	}
}
