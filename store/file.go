package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dosguard/dosguard/ban"
)

// stateVersion is the version of the State_File format.
const stateVersion = 1

// File is the State_File: a JSON file written atomically (temporary file,
// sync, rename, directory sync). One file per dosguard instance: two
// writers would overwrite each other's bans.
type File struct {
	// Path is the file's path.
	Path string
}

var _ Store = File{}

// Load reads the file. A missing file is (nil, nil); a corrupt one is an
// error naming the file.
func (f File) Load() (*State, error) {
	sf, err := readState(f.Path)
	if err != nil || sf == nil {
		return nil, err
	}
	st := &State{History: make(map[netip.Prefix]ban.Offence)}
	for _, sb := range sf.Bans {
		b := ban.Ban{Prefix: sb.Prefix.Masked(), Since: sb.Since, ExpiresAt: sb.ExpiresAt, Offences: sb.Offences, Duration: sb.Duration}
		for _, e := range sb.Entries {
			b.Entries = append(b.Entries, ban.Entry{Target: e.ACLID, Rule: e.RuleNumber, Foreign: e.NotOurs})
		}
		st.Bans = append(st.Bans, b)
	}
	sortBans(st.Bans)
	for _, h := range sf.History {
		st.History[h.Prefix.Masked()] = ban.Offence{LastEnd: h.LastEnd, Count: h.Count}
	}
	return st, nil
}

// Save writes st to the file atomically.
func (f File) Save(st State) error {
	sf := &stateFile{Version: stateVersion, Bans: []stateBan{}}
	for _, b := range st.Bans {
		sb := stateBan{Prefix: b.Prefix, Since: b.Since, ExpiresAt: b.ExpiresAt, Offences: b.Offences, Duration: b.Duration}
		for _, e := range b.Entries {
			sb.Entries = append(sb.Entries, stateEntry{ACLID: e.Target, RuleNumber: e.Rule, NotOurs: e.Foreign})
		}
		sf.Bans = append(sf.Bans, sb)
	}
	slices.SortFunc(sf.Bans, func(a, b stateBan) int { return ban.ComparePrefix(a.Prefix, b.Prefix) })
	for p, o := range st.History {
		sf.History = append(sf.History, stateHistory{Prefix: p, LastEnd: o.LastEnd, Count: o.Count})
	}
	slices.SortFunc(sf.History, func(a, b stateHistory) int { return ban.ComparePrefix(a.Prefix, b.Prefix) })
	return writeState(f.Path, sf)
}

// stateFile is the JSON form of a State.
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

// readState reads path. A missing file is (nil, nil).
func readState(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read state file %s: %w", path, err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("store: state file %s is corrupt: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("store: state file %s: version %d, want %d", path, st.Version, stateVersion)
	}
	for i, b := range st.Bans {
		if !b.Prefix.IsValid() || b.Prefix.Bits() == 0 || len(b.Entries) == 0 {
			return nil, fmt.Errorf("store: state file %s is corrupt: ban %d (%s) has no valid prefix or entries", path, i, b.Prefix)
		}
	}
	return &st, nil
}

// writeState writes st to path atomically: a temporary file in the same
// directory, synced, then renamed over path, then the directory synced.
func writeState(path string, st *stateFile) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode state: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("store: write state file %s: %w", path, err)
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
		return fmt.Errorf("store: write state file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}
