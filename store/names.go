package store

import "strings"

// IsChannelNameValid reports whether name is a valid channel name (SPEC
// §3.1): not empty, no leading or trailing '.', no "..", no '/'. Wildcards
// ('*' and '>') are refused unless wildcardsOK, and then are allowed only as
// whole tokens with '>' as the last token (per-channel limit definitions).
// No other characters are checked, as in the reference.
func IsChannelNameValid(name string, wildcardsOK bool) bool {
	if name == "" || name[0] == '.' || name[len(name)-1] == '.' ||
		strings.Contains(name, "..") || strings.ContainsRune(name, '/') {
		return false
	}
	if !strings.ContainsAny(name, "*>") {
		return true
	}
	if !wildcardsOK {
		return false
	}
	toks := strings.Split(name, ".")
	for i, tok := range toks {
		if !strings.ContainsAny(tok, "*>") {
			continue
		}
		if len(tok) != 1 || (tok == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}
