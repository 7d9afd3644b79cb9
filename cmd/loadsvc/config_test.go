package main

import (
	"strings"
	"testing"
)

// settingCase is a number setting read from env and args, and what it
// must come to.
type settingCase struct {
	env  []string
	args []string
	want int64
}

// checkSetting loads the config of each case and compares what get reads
// from it.
func checkSetting(t *testing.T, get func(*config) int64, cases []settingCase) {
	t.Helper()
	for _, tc := range cases {
		c, err := loadConfig(tc.args, environ(tc.env))
		if err != nil || get(c) != tc.want {
			t.Errorf("%v %v: %v, %v; want %d", tc.env, tc.args, c, err, tc.want)
		}
	}
}

// LOADSVC_MAX_INFLIGHT_BYTES: 256 MiB by default, from the environment or
// the flag, 0 for no bound, never below the largest message.
func TestInflightBytesConfig(t *testing.T) {
	t.Parallel()
	checkSetting(t, func(c *config) int64 { return c.MaxInflightBytes }, []settingCase{
		{nil, nil, 256 << 20},
		{[]string{"LOADSVC_MAX_INFLIGHT_BYTES=134217728"}, nil, 128 << 20},
		{[]string{"LOADSVC_MAX_INFLIGHT_BYTES=134217728"}, []string{"--max-inflight-bytes=0"}, 0},
	})
	_, err := loadConfig([]string{"--max-inflight-bytes=1000", "--max-recv-bytes=2000"}, environ(nil))
	if err == nil || !strings.Contains(err.Error(), "LOADSVC_MAX_RECV_BYTES") {
		t.Errorf("a budget below the largest message: %v", err)
	}
}

// LOADSVC_MAX_WATCH_STREAMS: 100 by default, from the environment or the
// flag, 0 to refuse every Watch, never negative.
func TestMaxWatchStreamsConfig(t *testing.T) {
	t.Parallel()
	checkSetting(t, func(c *config) int64 { return int64(c.MaxWatchStreams) }, []settingCase{
		{nil, nil, 100},
		{[]string{"LOADSVC_MAX_WATCH_STREAMS=7"}, nil, 7},
		{[]string{"LOADSVC_MAX_WATCH_STREAMS=7"}, []string{"--max-watch-streams=0"}, 0},
	})
	_, err := loadConfig(nil, environ([]string{"LOADSVC_MAX_WATCH_STREAMS=-1"}))
	if err == nil || !strings.Contains(err.Error(), "LOADSVC_MAX_WATCH_STREAMS") {
		t.Errorf("a negative cap: %v", err)
	}
}

// LOADSVC_MAX_ROW_ERRORS: 1,000 by default, from the environment or the
// flag, more than 0.
func TestMaxRowErrorsConfig(t *testing.T) {
	t.Parallel()
	checkSetting(t, func(c *config) int64 { return int64(c.MaxRowErrors) }, []settingCase{
		{nil, nil, 1000},
		{[]string{"LOADSVC_MAX_ROW_ERRORS=7"}, nil, 7},
		{[]string{"LOADSVC_MAX_ROW_ERRORS=7"}, []string{"--max-row-errors=3"}, 3},
	})
	_, err := loadConfig(nil, environ([]string{"LOADSVC_MAX_ROW_ERRORS=0"}))
	if err == nil || !strings.Contains(err.Error(), "LOADSVC_MAX_ROW_ERRORS") {
		t.Errorf("a cap of 0: %v", err)
	}
}

// The session settings: defaults, the environment, and refusals that name
// the setting.
func TestSessionConfig(t *testing.T) {
	t.Parallel()
	checkSetting(t, func(c *config) int64 { return int64(c.SessionTTL.Seconds()) }, []settingCase{
		{nil, nil, 24 * 3600},
		{[]string{"LOADSVC_SESSION_TTL=2h"}, nil, 7200},
		{[]string{"LOADSVC_SESSION_TTL=2h"}, []string{"--session-ttl=1m"}, 60},
	})
	checkSetting(t, func(c *config) int64 { return int64(c.MaxSessions) }, []settingCase{
		{nil, nil, 100},
		{[]string{"LOADSVC_MAX_SESSIONS=3"}, nil, 3},
	})
	checkSetting(t, func(c *config) int64 { return c.MaxSessionRows }, []settingCase{
		{nil, nil, 100_000_000},
		{[]string{"LOADSVC_MAX_SESSION_ROWS=1000"}, []string{"--max-session-rows=5"}, 5},
	})
	for _, tc := range []struct{ env, want string }{
		{"LOADSVC_SESSION_TTL=200h", "LOADSVC_SESSION_MAX_TTL"},
		{"LOADSVC_SESSION_TTL=0s", "LOADSVC_SESSION_TTL"},
		{"LOADSVC_SESSION_SWEEP_INTERVAL=0s", "LOADSVC_SESSION_SWEEP_INTERVAL"},
		{"LOADSVC_MAX_SESSIONS=0", "LOADSVC_MAX_SESSIONS"},
		{"LOADSVC_MAX_SESSION_ROWS=-1", "LOADSVC_MAX_SESSION_ROWS"},
	} {
		_, err := loadConfig(nil, environ([]string{tc.env}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a refusal naming %s", tc.env, err, tc.want)
		}
	}
	if _, err := loadConfig([]string{"--session-stage-schema="}, environ(nil)); err == nil || !strings.Contains(err.Error(), "LOADSVC_SESSION_STAGE_SCHEMA") {
		t.Errorf("an empty stage schema: %v", err)
	}
}
