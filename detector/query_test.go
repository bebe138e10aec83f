package detector

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
)

// The two queries of the article, verbatim.
const (
	articleFlood = "SELECT host, COUNT(*) as requests FROM access.win:time_batch(1 min) GROUP BY host HAVING COUNT(*) >= 1000"
	articleLogin = "SELECT host, COUNT(*) AS login_failed FROM access.win:time_batch(1 min) WHERE auth = 'failed' GROUP BY host HAVING COUNT(*) >= 60"
)

func TestParseQueryArticle(t *testing.T) {
	tests := []struct {
		q    string
		want RuleSpec
	}{
		{articleFlood, RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, WindowType: Tumbling,
			Threshold: 1000, Alias: "requests", Query: articleFlood}},
		{articleLogin, RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, WindowType: Tumbling,
			Threshold: 60, Where: "auth = 'failed'", Alias: "login_failed", Query: articleLogin}},
	}
	for _, tt := range tests {
		got, err := ParseQuery(tt.q)
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", tt.q, err)
		}
		if !reflect.DeepEqual(withoutCond(t, tt.q, got), tt.want) {
			t.Errorf("ParseQuery(%q) =\n%+v, want\n%+v", tt.q, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("ParseQuery(%q).Validate() = %v", tt.q, err)
		}
	}
}

func TestParseQuery(t *testing.T) {
	const tail = " GROUP BY host HAVING COUNT(*) >= 10"
	tests := []struct {
		name string
		q    string
		want RuleSpec // Query is filled in by the test
	}{
		{"lower case keywords and sliding window", "select host, count(*) from access.win:time(30 sec) group by host having count(*) >= 10",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 30 * time.Second, Threshold: 10}},
		{"greater than adds one", "SELECT host, COUNT(*) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) > 99",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 100}},
		{"greater than zero", "SELECT host, COUNT(*) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) > 0",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 1}},
		{"count distinct", "SELECT host, COUNT(DISTINCT path) AS paths FROM access.win:time(5 min) GROUP BY host HAVING COUNT(DISTINCT path) >= 50",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 5 * time.Minute, Threshold: 50, Distinct: chunk.Path{"path"}, Alias: "paths"}},
		{"distinct only in HAVING", "SELECT host FROM access.win:time(5 min) GROUP BY host HAVING COUNT(DISTINCT request.path) >= 50",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 5 * time.Minute, Threshold: 50, Distinct: chunk.Path{"request", "path"}}},
		{"count first", "SELECT COUNT(*), host FROM access.win:time(1 min)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 10}},
		{"nested key", "SELECT request.remote_addr, COUNT(*) FROM access.win:time(1 min) GROUP BY request.remote_addr HAVING COUNT(*) >= 10",
			RuleSpec{Target: "access", Key: chunk.Path{"request", "remote_addr"}, Window: time.Minute, Threshold: 10}},
		{"accessor key matching dotted key", "SELECT $request['remote_addr'], COUNT(*) FROM access.win:time(1 min) GROUP BY request.remote_addr HAVING COUNT(*) >= 10",
			RuleSpec{Target: "access", Key: chunk.Path{"request", "remote_addr"}, Window: time.Minute, Threshold: 10}},
		{"dotted target", "SELECT host, COUNT(*) FROM apache.access.win:time_batch(1 hour)" + tail,
			RuleSpec{Target: "apache.access", Key: chunk.Path{"host"}, Window: time.Hour, WindowType: Tumbling, Threshold: 10}},
		{"compound period", "SELECT host, COUNT(*) FROM access.win:time(1 min 30 sec 500 msec)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 90*time.Second + 500*time.Millisecond, Threshold: 10}},
		{"fractional period", "SELECT host, COUNT(*) FROM access.win:time(1.5 minutes)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 90 * time.Second, Threshold: 10}},
		{"bare number is seconds", "SELECT host, COUNT(*) FROM access.win:time(10)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 10 * time.Second, Threshold: 10}},
		{"unit without space", "SELECT host, COUNT(*) FROM access.win:time(10sec)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 10 * time.Second, Threshold: 10}},
		{"upper-case units", "SELECT host, COUNT(*) FROM access.WIN:TIME_BATCH(2 HOURS)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 2 * time.Hour, WindowType: Tumbling, Threshold: 10}},
		{"day", "SELECT host, COUNT(*) FROM access.win:time(1 day)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 24 * time.Hour, Threshold: 10}},
		{"milliseconds", "SELECT host, COUNT(*) FROM access.win:time(250 milliseconds)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: 250 * time.Millisecond, Threshold: 10}},
		{"seconds minute hours second minutes millisecond", "SELECT host, COUNT(*) FROM access.win:time(1 hours 1 minute 1 seconds 1 millisecond)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Hour + time.Minute + time.Second + time.Millisecond, Threshold: 10}},
		{"complex where", "SELECT host, COUNT(*) FROM access.win:time(1 min) WHERE code >= 400 AND (path LIKE '/wp-%' OR agent REGEXP 'nikto')" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 10, Where: "code >= 400 AND (path LIKE '/wp-%' OR agent REGEXP 'nikto')"}},
		{"field named group in where", "SELECT host, COUNT(*) FROM access.win:time(1 min) WHERE $group = 'x'" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 10, Where: "$group = 'x'"}},
		{"multi-line with comments and semicolon", "-- no\n"[:0] + "SELECT host,\n       COUNT(*) AS requests  // per client\nFROM access.win:time_batch(1 min)\nWHERE auth = 'failed' /* only failures */\nGROUP BY host\nHAVING COUNT(*) >= 60;\n",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, WindowType: Tumbling, Threshold: 60, Alias: "requests", Where: "auth = 'failed' /* only failures */"}},
		{"alias that is a keyword", "SELECT host, COUNT(*) AS count FROM access.win:time(1 min)" + tail,
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 10, Alias: "count"}},
		{"threshold at the int32 limit", "SELECT host, COUNT(*) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 2147483647",
			RuleSpec{Target: "access", Key: chunk.Path{"host"}, Window: time.Minute, Threshold: 2147483647}},
	}
	for _, tt := range tests {
		got, err := ParseQuery(tt.q)
		if err != nil {
			t.Errorf("%s: ParseQuery(%q): %v", tt.name, tt.q, err)
			continue
		}
		tt.want.Query = tt.q
		if !reflect.DeepEqual(withoutCond(t, tt.name, got), tt.want) {
			t.Errorf("%s: ParseQuery(%q) =\n%+v, want\n%+v", tt.name, tt.q, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
		// The canonical rendering parses back to the same rule.
		r := formatQuery(got)
		again, err := ParseQuery(r)
		if err != nil {
			t.Errorf("%s: rendering %q does not parse: %v", tt.name, r, err)
			continue
		}
		if !sameRule(got, again) {
			t.Errorf("%s: rendering %q parses to\n%+v, want\n%+v", tt.name, r, again, got)
		}
	}
}

// sameRule compares what two specs from ParseQuery mean, ignoring the
// source texts.
func sameRule(a, b RuleSpec) bool {
	if a.Cond == nil || b.Cond == nil || a.Cond.String() != b.Cond.String() {
		return false
	}
	a.Where, b.Where, a.Query, b.Query, a.Cond, b.Cond = "", "", "", "", nil, nil
	return reflect.DeepEqual(a, b)
}

// withoutCond checks that s.Cond, as ParseQuery set it, is s.Where compiled,
// and returns s without it, to compare with a spec written by hand.
func withoutCond(t testing.TB, what string, s RuleSpec) RuleSpec {
	t.Helper()
	want, err := CompileCond(s.Where)
	switch {
	case err != nil:
		t.Errorf("%s: Where %q does not compile: %v", what, s.Where, err)
	case s.Cond == nil:
		t.Errorf("%s: Cond is nil, want Where %q compiled", what, s.Where)
	case s.Cond.String() != want.String():
		t.Errorf("%s: Cond is %q, want Where %q compiled: %q", what, s.Cond, s.Where, want)
	}
	s.Cond = nil
	return s
}

func TestParseQueryErrors(t *testing.T) {
	const from = " FROM access.win:time(1 min) "
	const tail = " GROUP BY host HAVING COUNT(*) >= 10"
	tests := []struct {
		name      string
		q         string
		line, col int
		msg       string
	}{
		{"other aggregate", "SELECT host, AVG(size)" + from + tail, 1, 14, "unsupported aggregate AVG: want COUNT(*) or COUNT(DISTINCT field)"},
		{"sum in having", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING SUM(size) >= 10", 1, 72, "unsupported aggregate SUM"},
		{"count of a field", "SELECT host, COUNT(size)" + from + tail, 1, 20, "unsupported COUNT(size)"},
		{"two counts", "SELECT host, COUNT(*), COUNT(*)" + from + tail, 1, 24, "second aggregate"},
		{"select star", "SELECT *" + from + tail, 1, 8, "unsupported SELECT *"},
		{"select distinct", "SELECT DISTINCT host" + from + tail, 1, 8, "unsupported SELECT DISTINCT"},
		{"two fields", "SELECT host, path, COUNT(*)" + from + tail, 1, 14, "unsupported second field path"},
		{"key alias", "SELECT host AS h, COUNT(*)" + from + tail, 1, 13, "alias on the key field"},
		{"not select", "INSERT INTO x SELECT host" + from + tail, 1, 1, "unsupported statement INSERT: want SELECT"},
		{"empty", "", 1, 1, "unexpected end of input, want SELECT"},
		{"missing from", "SELECT host, COUNT(*)", 1, 22, "missing FROM"},
		{"join", "SELECT host, COUNT(*) FROM access.win:time(1 min) JOIN other.win:time(1 min)" + tail, 1, 51, "unsupported join"},
		{"comma join", "SELECT host, COUNT(*) FROM access.win:time(1 min), other.win:time(1 min)" + tail, 1, 50, "unsupported join"},
		{"length window", "SELECT host, COUNT(*) FROM access.win:length(100)" + tail, 1, 35, "unsupported view win:length: want win:time or win:time_batch"},
		{"std view", "SELECT host, COUNT(*) FROM access.std:lastevent()" + tail, 1, 35, "unsupported view std:lastevent"},
		{"chained view", "SELECT host, COUNT(*) FROM access.win:time(1 min).std:unique(host)" + tail, 1, 50, "unsupported chained view"},
		{"hash view syntax", "SELECT host, COUNT(*) FROM access#time(1 min)" + tail, 1, 34, "unsupported view syntax '#'"},
		{"no window", "SELECT host, COUNT(*) FROM access" + tail, 1, 28, "FROM access has no window"},
		{"no target", "SELECT host, COUNT(*) FROM win:time(1 min)" + tail, 1, 28, "missing target"},
		{"time_batch reference point", "SELECT host, COUNT(*) FROM access.win:time_batch(1 min, 0L)" + tail, 1, 55, "unsupported second parameter"},
		{"unknown unit", "SELECT host, COUNT(*) FROM access.win:time(1 week)" + tail, 1, 46, "unsupported time unit week"},
		{"zero window", "SELECT host, COUNT(*) FROM access.win:time(0 sec)" + tail, 1, 44, "zero length"},
		{"window too long", "SELECT host, COUNT(*) FROM access.win:time(2 days)" + tail, 1, 44, "longer than 24h0m0s"},
		{"sub-millisecond window", "SELECT host, COUNT(*) FROM access.win:time(1.0001 sec)" + tail, 1, 44, "whole number of milliseconds"},
		{"negative window", "SELECT host, COUNT(*) FROM access.win:time(-1 sec)" + tail, 1, 44, "negative time period"},
		{"number without unit in compound", "SELECT host, COUNT(*) FROM access.win:time(1 min 30)" + tail, 1, 52, "want a time unit after 30"},
		{"order by", "SELECT host, COUNT(*)" + from + tail + " ORDER BY host", 1, 88, "unsupported ORDER clause"},
		{"output", "SELECT host, COUNT(*)" + from + tail + " OUTPUT every 1 min", 1, 88, "unsupported OUTPUT clause"},
		{"having less than", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING COUNT(*) < 10", 1, 81, "unsupported HAVING COUNT(*) <: a rule fires as the count rises, want >= or >"},
		{"having equal", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING COUNT(*) = 10", 1, 81, "want >= or >"},
		{"having two conditions", "SELECT host, COUNT(*)" + from + tail + " AND COUNT(*) < 100", 1, 88, "unsupported AND in HAVING"},
		{"having alias", "SELECT host, COUNT(*) AS n" + from + "GROUP BY host HAVING n >= 10", 1, 77, "unexpected n, want COUNT(*) >= <n>"},
		{"having float", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING COUNT(*) >= 10.5", 1, 84, "want a whole number in [1, 2147483647]"},
		{"having zero", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING COUNT(*) >= 0", 1, 84, "want a whole number in [1,"},
		{"having too big", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING COUNT(*) > 2147483647", 1, 83, "want a whole number in [0, 2147483646]"},
		{"having distinct mismatch", "SELECT host, COUNT(*)" + from + "GROUP BY host HAVING COUNT(DISTINCT path) >= 10", 1, 72, "HAVING COUNT(DISTINCT path) does not match COUNT(*) in SELECT"},
		{"missing having", "SELECT host, COUNT(*)" + from + "GROUP BY host", 1, 64, "missing HAVING COUNT(*) >= <n>"},
		{"missing group by", "SELECT host, COUNT(*)" + from + "HAVING COUNT(*) >= 10", 1, 51, "want WHERE or GROUP BY"},
		{"missing group by at end", "SELECT host, COUNT(*)" + from, 1, 51, "missing GROUP BY"},
		{"mismatched group by", "SELECT host, COUNT(*)" + from + "GROUP BY path HAVING COUNT(*) >= 10", 1, 60, "GROUP BY path does not match the SELECT key host"},
		{"group by two keys", "SELECT host, COUNT(*)" + from + "GROUP BY host, path HAVING COUNT(*) >= 10", 1, 64, "GROUP BY on several fields"},
		{"trailing garbage", "SELECT host, COUNT(*)" + from + tail + " garbage", 1, 88, "unexpected garbage after the query"},
		{"two semicolons", "SELECT host, COUNT(*)" + from + tail + ";;", 1, 88, "unexpected ';' after the query"},
		{"unterminated string", "SELECT host, COUNT(*)" + from + "WHERE auth = 'failed" + tail, 1, 64, "unterminated string"},
		{"bad where", "SELECT host, COUNT(*)" + from + "WHERE auth == 'x'" + tail, 1, 63, "unexpected '='"},
		{"empty where", "SELECT host, COUNT(*)" + from + "WHERE" + tail, 1, 57, "unexpected keyword GROUP"},
		{"where junk", "SELECT host, COUNT(*)" + from + "WHERE a = 1 b = 2" + tail, 1, 63, "want AND, OR or GROUP BY"},
		{"keyword as key", "SELECT count, COUNT(*)" + from + tail, 1, 8, "write $count"},
		// Positions on multi-line queries.
		{"multi-line aggregate", "SELECT host,\n  MAX(size)\nFROM access.win:time(1 min)\nGROUP BY host\nHAVING COUNT(*) >= 10", 2, 3, "unsupported aggregate MAX"},
		{"multi-line having", "SELECT host, COUNT(*)\nFROM access.win:time(1 min)\nGROUP BY host\nHAVING COUNT(*) <= 10", 4, 17, "unsupported HAVING COUNT(*) <="},
		{"multi-line where", "SELECT host, COUNT(*)\nFROM access.win:time(1 min)\nWHERE auth = 'échec'\n\tAND code ! 3\nGROUP BY host\nHAVING COUNT(*) >= 10", 4, 11, "unexpected character '!'"},
		{"multi-line unterminated", "SELECT host, COUNT(*)\nFROM access.win:time(1 min)\nWHERE auth = 'failed\nGROUP BY host\nHAVING COUNT(*) >= 10", 3, 14, "unterminated string"},
		{"multi-line missing having", "SELECT host, COUNT(*)\nFROM access.win:time(1 min)\nGROUP BY host\n", 4, 1, "missing HAVING"},
	}
	for _, tt := range tests {
		_, err := ParseQuery(tt.q)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: ParseQuery(%q) error = %v, want a *SyntaxError", tt.name, tt.q, err)
			continue
		}
		if se.Line != tt.line || se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) || se.What != "query" {
			t.Errorf("%s: ParseQuery(%q) = line %d column %d %q, want line %d column %d containing %q", tt.name, tt.q, se.Line, se.Column, se.Msg, tt.line, tt.col, tt.msg)
		}
		if !strings.HasPrefix(err.Error(), "detector: query "+strconv.Quote(tt.q)+" line ") {
			t.Errorf("%s: error %q does not quote the query", tt.name, err)
		}
	}
}

func TestParseQueryErrorText(t *testing.T) {
	q := "SELECT host, AVG(size) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 10"
	_, err := ParseQuery(q)
	want := `detector: query "SELECT host, AVG(size) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 10" line 1 column 14: unsupported aggregate AVG: want COUNT(*) or COUNT(DISTINCT field)`
	if err == nil || err.Error() != want {
		t.Errorf("ParseQuery(%q) error =\n%v, want\n%s", q, err, want)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{
		articleFlood,
		articleLogin,
		"select host, count(distinct path) from a.b.win:time(1 min 30 sec) where code >= 400 and not ($x['y'] is null) group by host having count(distinct path) > 5;",
		"SELECT COUNT(*), request.ip FROM access.win:time(0.5 sec) GROUP BY request.ip HAVING COUNT(*) >= 1",
		"SELECT host, AVG(size) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 10",
		"SELECT host, COUNT(*)\nFROM access.win:time(1 min)\nWHERE auth = 'failed\nGROUP BY host",
		"SELECT host, COUNT(*) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 10 ORDER BY host",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		spec, err := ParseQuery(q)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 || se.Offset < 0 || se.Offset > len(q) {
				t.Fatalf("ParseQuery(%q) error %v: want a *SyntaxError with a position", q, err)
			}
			return
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("ParseQuery(%q) = %+v, which does not validate: %v", q, spec, err)
		}
		withoutCond(t, q, spec)
		r := formatQuery(spec)
		again, err := ParseQuery(r)
		if err != nil {
			t.Fatalf("ParseQuery(%q) renders as %q, which does not parse: %v", q, r, err)
		}
		if !sameRule(spec, again) {
			t.Fatalf("ParseQuery(%q) = %+v renders as %q, which parses to %+v", q, spec, r, again)
		}
		if r2 := formatQuery(again); r2 != r {
			t.Fatalf("rendering of %q is not stable: %q then %q", q, r, r2)
		}
	})
}
