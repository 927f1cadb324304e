//go:build race

package flowtable

// raceEnabled: built with -race, whose detector would call the
// prefaulter's touches races (see prefault_linux.go).
const raceEnabled = true
