package dirdump

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

// CSVFile names the CSV file of a record kind: structure → structures.csv.
func CSVFile(kind string) string {
	if strings.HasSuffix(kind, "s") { // news
		return kind + ".csv"
	}
	return kind + "s.csv"
}

// csvColumns are the columns of a record type: its JSON names, in order.
func csvColumns(t reflect.Type) []string {
	cols := make([]string, t.NumField())
	for i := range cols {
		cols[i] = jsonName(t.Field(i))
	}
	return cols
}

var timeType = reflect.TypeFor[time.Time]()

// csvCells renders a record as CSV cells: text as it is, booleans
// true/false, numbers in decimal, instants RFC 3339 in UTC, and lists,
// maps and the service definitions as compact JSON (empty when absent).
func csvCells(rec any, cells []string) ([]string, error) {
	v := reflect.ValueOf(rec)
	cells = cells[:0]
	for i := range v.NumField() {
		f := v.Field(i)
		var s string
		switch {
		case f.Type() == timeType:
			s = f.Interface().(time.Time).UTC().Format(time.RFC3339Nano)
		case f.Kind() == reflect.Pointer:
			if !f.IsNil() {
				s = f.Elem().Interface().(time.Time).UTC().Format(time.RFC3339Nano)
			}
		case f.Kind() == reflect.String:
			s = f.String()
		case f.Kind() == reflect.Bool:
			s = strconv.FormatBool(f.Bool())
		case f.Kind() == reflect.Int:
			s = strconv.FormatInt(f.Int(), 10)
		default: // slices, maps, raw JSON
			if f.Len() > 0 {
				b, err := json.Marshal(f.Interface())
				if err != nil {
					return nil, fmt.Errorf("column %s: %w", jsonName(v.Type().Field(i)), err)
				}
				s = string(b)
			}
		}
		cells = append(cells, s)
	}
	return cells, nil
}

// recordTypes maps each kind to its record type, for the CSV headers.
var recordTypes = map[string]reflect.Type{
	"structure": reflect.TypeFor[structureRec](), "subject": reflect.TypeFor[subjectRec](),
	"mef": reflect.TypeFor[mefRec](), "group": reflect.TypeFor[groupRec](), "person": reflect.TypeFor[personRec](),
	"account": reflect.TypeFor[accountRec](), "persona": reflect.TypeFor[personaRec](),
	"membership": reflect.TypeFor[membershipRec](), "relation": reflect.TypeFor[relationRec](),
	"external_link": reflect.TypeFor[linkRec](), "guest": reflect.TypeFor[guestRec](),
	"space": reflect.TypeFor[spaceRec](), "space_member": reflect.TypeFor[spaceMemberRec](),
	"service": reflect.TypeFor[serviceRec](), "news": reflect.TypeFor[newsRec](), "branding": reflect.TypeFor[brandingRec](),
}

// writeCSV streams the directory as one CSV file per kind (RFC 4180:
// header row, CRLF, UTF-8), each written as its records are read.
func writeCSV(ctx context.Context, d directory.DumpReader, out *outDir, o Options) (Counts, error) {
	writers := map[string]*csv.Writer{}
	for _, kind := range Kinds {
		f, err := out.create(CSVFile(kind))
		if err != nil {
			return nil, err
		}
		w := csv.NewWriter(f)
		w.UseCRLF = true
		if err := w.Write(csvColumns(recordTypes[kind])); err != nil {
			return nil, err
		}
		writers[kind] = w
	}
	counts := Counts{}
	var cells []string
	err := walk(ctx, d, o.WithSecrets, func(kind string, rec any) error {
		var err error
		if cells, err = csvCells(rec, cells); err != nil {
			return fmt.Errorf("%s: %w", CSVFile(kind), err)
		}
		counts[kind]++
		return writers[kind].Write(cells)
	})
	if err != nil {
		return counts, err
	}
	for _, kind := range Kinds {
		w := writers[kind]
		if w.Flush(); w.Error() != nil {
			return counts, fmt.Errorf("%s: %w", CSVFile(kind), w.Error())
		}
	}
	return counts, nil
}
