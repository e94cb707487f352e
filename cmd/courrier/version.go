package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// buildInfo is what the binary knows about its own build.
type buildInfo struct {
	Version   string // -ldflags -X main.version, else the module version, else the VCS revision
	Revision  string // vcs.revision
	Time      string // vcs.time (commit time, RFC 3339)
	Modified  bool   // vcs.modified: built from a work tree with uncommitted changes
	GoVersion string
}

func buildVersion() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildInfo{Version: version}
	}
	return versionFrom(bi, version)
}

// versionFrom reads bi; ldflags is main.version as set at link time ("dev"
// when not set).
func versionFrom(bi *debug.BuildInfo, ldflags string) buildInfo {
	b := buildInfo{Version: ldflags}
	b.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.Version == "dev" {
		switch {
		case bi.Main.Version != "" && bi.Main.Version != "(devel)":
			b.Version = bi.Main.Version
		case b.Revision != "":
			b.Version = "dev-" + b.Revision[:min(12, len(b.Revision))]
		}
		if b.Modified && b.Revision != "" && !strings.HasSuffix(b.Version, "+dirty") {
			b.Version += "+dirty"
		}
	}
	return b
}

// String is the one-line form used in logs and traces.
func (b buildInfo) String() string { return b.Version }

func runVersion(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("version", "Prints the version and what the binary knows of its build (VCS revision, commit time,\n"+
		"uncommitted changes, Go version), from runtime/debug.ReadBuildInfo.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := buildVersion()
	var sb strings.Builder
	fmt.Fprintf(&sb, "courrier %s\n", b.Version)
	if b.Revision != "" {
		fmt.Fprintf(&sb, "revision  %s\n", b.Revision)
	}
	if b.Time != "" {
		fmt.Fprintf(&sb, "committed %s\n", b.Time)
	}
	if b.Revision != "" {
		fmt.Fprintf(&sb, "modified  %t\n", b.Modified)
	}
	if b.GoVersion != "" {
		fmt.Fprintf(&sb, "go        %s\n", b.GoVersion)
	}
	_, err := fmt.Fprint(env.Stdout, sb.String())
	return err
}
