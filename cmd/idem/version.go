package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionString is idem's version from the build info the go command
// embeds: the module version for `go install ...@v0.1.0`, "(devel)" for a
// build from a checkout (with its VCS revision when recorded).
func versionString() string {
	v, goVersion := "(unknown)", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		if v == "" {
			v = "(devel)"
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v == "(devel)" {
				v += " " + s.Value
			}
		}
	}
	return fmt.Sprintf("idem %s %s %s/%s", v, goVersion, runtime.GOOS, runtime.GOARCH)
}

func (a *app) version(args []string) int {
	if len(args) != 0 {
		return a.usageError("version", "takes no arguments")
	}
	fmt.Fprintln(a.stdout, versionString())
	return exitOK
}
