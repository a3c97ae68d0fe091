package idemhttp

import (
	"testing"
	"time"
)

func TestRetrySeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		left, lease time.Duration
		want        int
	}{
		{-time.Second, 30 * time.Second, 1},
		{0, 30 * time.Second, 1},
		{time.Millisecond, 30 * time.Second, 1},
		{time.Second, 30 * time.Second, 1},
		{time.Second + time.Millisecond, 30 * time.Second, 2},
		{29*time.Second + 1, 30 * time.Second, 30},
		{30 * time.Second, 30 * time.Second, 30},
		{time.Hour, 30 * time.Second, 30}, // a store clock ahead of ours
		{1500 * time.Millisecond, time.Second, 1},
	} {
		if got := retrySeconds(tc.left, tc.lease); got != tc.want {
			t.Errorf("retrySeconds(%v, %v) = %d, want %d", tc.left, tc.lease, got, tc.want)
		}
	}
}
