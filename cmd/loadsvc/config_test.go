package main

import (
	"strings"
	"testing"
)

// LOADSVC_MAX_INFLIGHT_BYTES: 256 MiB by default, from the environment or
// the flag, 0 for no bound, never below the largest message.
func TestInflightBytesConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  []string
		args []string
		want int64
	}{
		{nil, nil, 256 << 20},
		{[]string{"LOADSVC_MAX_INFLIGHT_BYTES=134217728"}, nil, 128 << 20},
		{[]string{"LOADSVC_MAX_INFLIGHT_BYTES=134217728"}, []string{"--max-inflight-bytes=0"}, 0},
	} {
		c, err := loadConfig(tc.args, environ(tc.env))
		if err != nil || c.MaxInflightBytes != tc.want {
			t.Errorf("%v %v: %v, %v; want %d", tc.env, tc.args, c, err, tc.want)
		}
	}
	_, err := loadConfig([]string{"--max-inflight-bytes=1000", "--max-recv-bytes=2000"}, environ(nil))
	if err == nil || !strings.Contains(err.Error(), "LOADSVC_MAX_RECV_BYTES") {
		t.Errorf("a budget below the largest message: %v", err)
	}
}
