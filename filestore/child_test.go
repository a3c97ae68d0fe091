//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
)

// The multi-process tests re-run this test binary as children. TestMain
// hands a child to runChild, which plays the role named by childEnv and
// reports on stdout as one JSON line.
const (
	childEnv   = "FILESTORE_TEST_CHILD"
	envDir     = "FILESTORE_TEST_DIR"     // the store directory
	envEffects = "FILESTORE_TEST_EFFECTS" // the side-effect file
	envKey     = "FILESTORE_TEST_KEY"     // the key, or the number of keys for "race"
	envLease   = "FILESTORE_TEST_LEASE"   // the guard's Lease
	envStrict  = "FILESTORE_TEST_STRICT"  // "1": NoTakeover
	envStart   = "FILESTORE_TEST_START"   // "race": wait for this file to exist
	envResume  = "FILESTORE_TEST_RESUME"  // "stall": finish once this file exists
	envSeed    = "FILESTORE_TEST_SEED"    // "race": key order
)

// fsizeLimit is the "bigwrite" child's limit on the size of a file it
// writes (RLIMIT_FSIZE).
const fsizeLimit = 4096

// childResult is a child's report.
type childResult struct {
	Value      string `json:"value"`
	Err        string `json:"err"`
	LeaseLost  bool   `json:"leaseLost"`
	Abandoned  bool   `json:"abandoned"`
	InProgress bool   `json:"inProgress"`
	Ran        int    `json:"ran"`
}

// effect appends one line to the effects file: the side effect the tests
// count from outside the processes.
func effect(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %d %d\n", line, os.Getpid(), time.Now().UnixNano())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func runChild(role string) int {
	res, err := child(role)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

func child(role string) (childResult, error) {
	var res childResult
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := filestore.New(os.Getenv(envDir), nil)
	if err != nil {
		return res, err
	}
	defer s.Close()
	lease, err := time.ParseDuration(os.Getenv(envLease))
	if err != nil {
		return res, err
	}
	cfg := &idempotency.Config{Lease: lease, WaitTimeout: 4 * time.Minute, NoTakeover: os.Getenv(envStrict) == "1"}
	effects, key := os.Getenv(envEffects), os.Getenv(envKey)
	switch role {
	case "race":
		return res, race(ctx, idempotency.New(s, cfg), effects, key)
	case "writer":
		return res, writer(ctx, s, effects)
	case "hang":
		// Record the side effect, then hang until killed.
		_, err := idempotency.Do(ctx, idempotency.New(s, cfg), key, func(context.Context) (string, error) {
			if err := effect(effects, "hang"); err != nil {
				return "", err
			}
			select {}
		})
		return res, fmt.Errorf("hang returned: %v", err)
	case "stall":
		// Record the side effect, then finish once told to, whatever
		// the context says: a stalled executor that ignores it.
		resume := os.Getenv(envResume)
		res.Value, err = idempotency.Do(ctx, idempotency.New(s, cfg), key, func(context.Context) (string, error) {
			res.Ran++
			if err := effect(effects, "stall"); err != nil {
				return "", err
			}
			for {
				if _, err := os.Stat(resume); err == nil {
					return "stalled", nil
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	case "bigwrite":
		// Write a record larger than the file size limit allows: the
		// claim fails, and a small one succeeds after it.
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			return res, err
		}
		lim.Cur = fsizeLimit
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			return res, err
		}
		req := idempotency.ClaimRequest{Key: key, Fingerprint: strings.Repeat("f", 2*fsizeLimit), Lease: lease}
		if _, err := s.Claim(ctx, req); err != nil {
			res.Err = err.Error()
		}
		req.Key, req.Fingerprint = key+"/small", "f"
		c, err := s.Claim(ctx, req)
		if err != nil {
			return res, err
		}
		if c.Acquired {
			res.Value = "claimed " + req.Key
		}
		return res, nil
	case "call":
		// A plain duplicate: wait for the key's outcome, taking over a
		// lapsed lease unless strict.
		cfg.OnDuplicate = idempotency.Wait
		res.Value, err = idempotency.Do(ctx, idempotency.New(s, cfg), key, func(context.Context) (string, error) {
			res.Ran++
			return "pid " + strconv.Itoa(os.Getpid()), effect(effects, "call")
		})
	default:
		return res, fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		res.Err = err.Error()
		res.LeaseLost = errors.Is(err, idempotency.ErrLeaseLost)
		res.Abandoned = errors.Is(err, idempotency.ErrAbandoned)
		res.InProgress = errors.Is(err, idempotency.ErrInProgress)
	}
	return res, nil
}

// race calls every key once, in a random order, after the start file
// appears; every result must be the key's one value.
func race(ctx context.Context, g *idempotency.Guard, effects, keys string) error {
	n, err := strconv.Atoi(keys)
	if err != nil {
		return err
	}
	seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	order := rand.New(rand.NewPCG(seed, seed)).Perm(n)
	for {
		if _, err := os.Stat(os.Getenv(envStart)); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, i := range order {
		key := fmt.Sprintf("key/%d", i)
		v, err := idempotency.Do(ctx, g, key, func(context.Context) (string, error) {
			return "value of " + key, effect(effects, key)
		})
		if err != nil {
			return fmt.Errorf("Do(%q): %w", key, err)
		}
		if v != "value of "+key {
			return fmt.Errorf("Do(%q) = %q", key, v)
		}
	}
	return nil
}

// writer writes records until killed: claims, completions with values
// large enough to take a while, extensions and releases, each of a new
// key, noting every key in the effects file before its first write.
func writer(ctx context.Context, s *filestore.Store, effects string) error {
	for n := 0; ; n++ {
		key := fmt.Sprintf("w/%d/%d", os.Getpid(), n)
		if err := effect(effects, key); err != nil {
			return err
		}
		c, err := s.Claim(ctx, idempotency.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			return err
		}
		switch n % 3 {
		case 0:
			err = s.Release(ctx, key, c.Record.Token)
		case 1:
			err = s.Extend(ctx, key, c.Record.Token, time.Hour)
		}
		if err != nil {
			return err
		}
		err = s.Complete(ctx, key, c.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: writerValue(key), TTL: time.Hour})
		if err != nil && !errors.Is(err, idempotency.ErrLeaseLost) { // released
			return err
		}
	}
}

// writerValue is the value writer stores for key: 64 KiB that tell keys
// apart.
func writerValue(key string) []byte {
	return []byte(strings.Repeat(key+";", 64<<10/(len(key)+1)))
}
