//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import (
	"io/fs"
	"os"
	"runtime"
)

// Without flock(2) (Windows, Plan 9, WebAssembly, ...), processes sharing a
// directory could not exclude each other: New refuses with errNoFlock.

func platformSupported() error { return errNoFlock(runtime.GOOS) }

func tryLockFile(*os.File) (bool, error) { return false, errNoFlock(runtime.GOOS) }

func unlockFile(*os.File) error { return errNoFlock(runtime.GOOS) }

func inode(fs.FileInfo) uint64 { return 0 }
