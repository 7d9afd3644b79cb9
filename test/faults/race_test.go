//go:build race

package faults_test

// raceEnabled reports a build with the race detector (go test -race).
const raceEnabled = true
