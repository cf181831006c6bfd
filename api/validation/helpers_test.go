package validation

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// wantErr is an expected validation error: its type and its field path.
type wantErr struct {
	typ   field.ErrorType
	field string
}

func (w wantErr) String() string { return fmt.Sprintf("%s %s", w.field, w.typ) }

func required(f string) wantErr     { return wantErr{field.ErrorTypeRequired, f} }
func invalid(f string) wantErr      { return wantErr{field.ErrorTypeInvalid, f} }
func notSupported(f string) wantErr { return wantErr{field.ErrorTypeNotSupported, f} }
func duplicate(f string) wantErr    { return wantErr{field.ErrorTypeDuplicate, f} }
func forbidden(f string) wantErr    { return wantErr{field.ErrorTypeForbidden, f} }
func notFound(f string) wantErr     { return wantErr{field.ErrorTypeNotFound, f} }
func tooLong(f string) wantErr      { return wantErr{field.ErrorTypeTooLong, f} }

// errs is shorthand for a list of expected errors.
func errs(w ...wantErr) []wantErr { return w }

// assertErrors fails unless got holds exactly the wanted (type, field)
// pairs, counting repeats; order does not matter, as errors from map
// iteration come in no fixed order.
func assertErrors(t *testing.T, got field.ErrorList, want []wantErr) {
	t.Helper()
	gotKeys := make([]string, 0, len(got))
	for _, e := range got {
		gotKeys = append(gotKeys, wantErr{e.Type, e.Field}.String())
	}
	wantKeys := make([]string, 0, len(want))
	for _, w := range want {
		wantKeys = append(wantKeys, w.String())
	}
	sort.Strings(gotKeys)
	sort.Strings(wantKeys)
	if strings.Join(gotKeys, "\n") != strings.Join(wantKeys, "\n") {
		t.Errorf("errors differ\n got: %q\nwant: %q\nfull errors:\n%s", gotKeys, wantKeys, describe(got))
	}
}

// assertDetail fails unless some error at path has a message containing text.
func assertDetail(t *testing.T, got field.ErrorList, path, text string) {
	t.Helper()
	for _, e := range got {
		if e.Field == path && strings.Contains(e.Error(), text) {
			return
		}
	}
	t.Errorf("no error at %s containing %q; got:\n%s", path, text, describe(got))
}

func describe(list field.ErrorList) string {
	var b strings.Builder
	for _, e := range list {
		fmt.Fprintf(&b, "  %s\n", e.Error())
	}
	return b.String()
}
