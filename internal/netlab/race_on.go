//go:build race

package netlab

const raceEnabled = true
