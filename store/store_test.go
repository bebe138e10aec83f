package store_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/store"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func state() store.State {
	return store.State{
		Bans: []ban.Ban{
			{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Entries: []ban.Entry{{Target: "acl-1", Rule: 1}, {Target: "acl-2", Rule: 4, Foreign: true}},
				Since: t0, ExpiresAt: t0.Add(time.Hour), Offences: 2, Duration: time.Hour},
			{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Entries: []ban.Entry{{Target: "acl-1", Rule: 2}}, Since: t0, Offences: 1},
		},
		History: map[netip.Prefix]ban.Offence{netip.MustParsePrefix("198.51.100.1/32"): {LastEnd: t0.Add(time.Hour), Count: 2}},
	}
}

// TestStores: every store gives back what was saved; nothing saved is nil.
func TestStores(t *testing.T) {
	stores := map[string]store.Store{
		"file":   store.File{Path: filepath.Join(t.TempDir(), "state")},
		"memory": &store.Memory{},
	}
	for name, s := range stores {
		if st, err := s.Load(); st != nil || err != nil {
			t.Errorf("%s: Load before Save = %v, %v; want nil, nil", name, st, err)
		}
		want := state()
		if err := s.Save(want); err != nil {
			t.Fatalf("%s: Save: %v", name, err)
		}
		got, err := s.Load()
		if err != nil || got == nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: Load = %+v, %v; want %+v", name, got, err, want)
		}
	}
}

// TestFileFormat: the State_File keeps its JSON format.
func TestFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	if err := (store.File{Path: path}).Save(state()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": 1`, `"prefix": "198.51.100.1/32"`, `"acl": "acl-1"`, `"rule": 4`, `"not_ours": true`,
		`"expires_at": "2025-03-01T13:00:00Z"`, `"duration_ns": 3600000000000`, `"last_end"`, `"count": 2`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("state file lacks %s:\n%s", want, data)
		}
	}
	if strings.Count(string(data), `"expires_at"`) != 1 {
		t.Errorf("a ban that never expires has an expires_at:\n%s", data)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestFileCorrupt(t *testing.T) {
	tests := map[string]string{
		"not json":    "{not json",
		"version":     `{"version": 2, "bans": []}`,
		"no entries":  `{"version": 1, "bans": [{"prefix": "198.51.100.1/32", "entries": []}]}`,
		"prefix zero": `{"version": 1, "bans": [{"prefix": "0.0.0.0/0", "entries": [{"acl": "acl-1", "rule": 1}]}]}`,
	}
	for name, body := range tests {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := store.File{Path: path}.Load()
		if st != nil || err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Load = %v, %v; want an error naming the file", name, st, err)
		}
	}
}

func TestReadOnly(t *testing.T) {
	m := &store.Memory{}
	if err := m.Save(state()); err != nil {
		t.Fatal(err)
	}
	ro := store.ReadOnly(m)
	if err := ro.Save(store.State{}); err != nil {
		t.Fatal(err)
	}
	if st, err := ro.Load(); err != nil || st == nil || len(st.Bans) != 2 {
		t.Errorf("ReadOnly Load = %+v, %v; want the 2 bans saved before", st, err)
	}
}
