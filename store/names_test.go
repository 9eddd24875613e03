package store

import "testing"

func TestIsChannelNameValid(t *testing.T) {
	for _, tc := range []struct {
		name       string
		plain, wcs bool // valid without / with wildcards allowed
	}{
		{"foo", true, true},
		{"foo.bar", true, true},
		{"Foo-bar_baz:1", true, true},
		{"", false, false},
		{".foo", false, false},
		{"foo.", false, false},
		{".", false, false},
		{"foo..bar", false, false},
		{"foo/bar", false, false},
		{"foo.*", false, true},
		{"*", false, true},
		{">", false, true},
		{"foo.>", false, true},
		{"*.bar.>", false, true},
		{"foo.*.baz", false, true},
		{"foo.>.bar", false, false},
		{"foo*", false, false},
		{"foo.b*r", false, false},
		{"foo.>>", false, false},
		{"foo.**", false, false},
		{">.foo", false, false},
		{"foo bar", true, true}, // no other character checks
	} {
		if got := IsChannelNameValid(tc.name, false); got != tc.plain {
			t.Errorf("IsChannelNameValid(%q, false) = %v, want %v", tc.name, got, tc.plain)
		}
		if got := IsChannelNameValid(tc.name, true); got != tc.wcs {
			t.Errorf("IsChannelNameValid(%q, true) = %v, want %v", tc.name, got, tc.wcs)
		}
	}
}
