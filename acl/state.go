package acl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is the version of the State_File format.
const stateVersion = 1

// stateFile is the JSON form of a Manager's state.
type stateFile struct {
	Version int            `json:"version"`
	Bans    []stateBan     `json:"bans"`
	History []stateHistory `json:"history,omitempty"`
}

type stateBan struct {
	Prefix    netip.Prefix  `json:"prefix"`
	Entries   []stateEntry  `json:"entries"`
	Since     time.Time     `json:"since"`
	ExpiresAt time.Time     `json:"expires_at,omitzero"`
	Offences  int           `json:"offences"`
	Duration  time.Duration `json:"duration_ns"`
}

type stateEntry struct {
	ACLID      string `json:"acl"`
	RuleNumber int    `json:"rule"`
	// NotOurs marks an entry someone else created: never deleted by us.
	NotOurs bool `json:"not_ours,omitempty"`
}

type stateHistory struct {
	Prefix  netip.Prefix `json:"prefix"`
	LastEnd time.Time    `json:"last_end"`
	Count   int          `json:"count"`
}

// offence is the escalation history of one prefix.
type offence struct {
	lastEnd time.Time // end of the latest ban (planned, or actual if earlier)
	count   int       // bans within the escalation window, chained
}

// readState reads path. A missing file is (nil, nil).
func readState(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acl: read state file %s: %w", path, err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("acl: state file %s is corrupt: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("acl: state file %s: version %d, want %d", path, st.Version, stateVersion)
	}
	for i, b := range st.Bans {
		if !b.Prefix.IsValid() || b.Prefix.Bits() == 0 || len(b.Entries) == 0 {
			return nil, fmt.Errorf("acl: state file %s is corrupt: ban %d (%s) has no valid prefix or entries", path, i, b.Prefix)
		}
	}
	return &st, nil
}

// writeState writes st to path atomically: a temporary file in the same
// directory, synced, then renamed over path, then the directory synced.
func writeState(path string, st *stateFile) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("acl: encode state: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("acl: write state file %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("acl: write state file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}
