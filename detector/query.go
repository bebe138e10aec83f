package detector

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dosguard/dosguard/chunk"
)

// ParseQuery parses a Norikra query into the rule it describes. The
// accepted subset of Esper EPL is
//
//	SELECT <key>, COUNT(*) [AS <alias>]
//	FROM <target>.win:time_batch(<period>) | <target>.win:time(<period>)
//	[WHERE <condition>]
//	GROUP BY <key>
//	HAVING COUNT(*) >= <n>
//
// with keywords in any case, HAVING COUNT(*) > n as well (the threshold is
// then n+1), COUNT(DISTINCT <field>) instead of COUNT(*) (the same in
// SELECT and HAVING) to count distinct values per key, and the SELECT list
// in either order or without the COUNT. win:time_batch is a Tumbling window,
// win:time a Sliding one. A period is one or more <number> <unit> pairs
// summing to a whole number of milliseconds, at most MaxWindow, units msec,
// millisecond(s), sec, second(s), min, minute(s), hour(s), day(s); a lone
// number without unit is seconds, as in Esper. The condition is the
// language of CompileCond. The key and fields may be dotted (request.path)
// or record accessors. One trailing ';' is allowed, and // and /* */
// comments anywhere.
//
// The spec has Target, Key, Window, WindowType, Threshold, Where (the
// condition's source text), Cond (the condition compiled by this parse, so
// RuleSpec.Compile does not compile it again), Distinct, Alias and Query
// set; Name and Action are left to the caller. Anything outside the subset
// (joins, other aggregates or views, ORDER BY, a HAVING that never fires) is
// refused with a *SyntaxError quoting the query and giving the line and
// column of the unsupported part.
func ParseQuery(q string) (RuleSpec, error) {
	p, err := newParser("query", q, true)
	if err != nil {
		return RuleSpec{}, err
	}
	spec := RuleSpec{Query: q, Cond: &Cond{}}

	if t := p.peek(); !p.accept("SELECT") {
		if t.kind == tokWord {
			return RuleSpec{}, p.errAt(t, "unsupported statement %s: want SELECT", strings.ToUpper(t.text))
		}
		return RuleSpec{}, p.errAt(t, "unexpected %s, want SELECT", t.describe())
	}
	if t := p.peek(); t.is("DISTINCT") {
		return RuleSpec{}, p.errAt(t, "unsupported SELECT DISTINCT: want SELECT <key>, COUNT(*)")
	}

	// The SELECT list: the key and the count, in either order.
	var (
		selKey      chunk.Path
		selCount    *countExpr
		selCountTok token
	)
	for {
		t := p.peek()
		switch {
		case t.is("*"):
			return RuleSpec{}, p.errAt(t, "unsupported SELECT *: want SELECT <key>, COUNT(*)")
		case t.kind == tokWord && p.peekAt(1).is("("):
			if selCount != nil {
				return RuleSpec{}, p.errAt(t, "SELECT lists a second aggregate: want one COUNT")
			}
			c, err := p.countExpr()
			if err != nil {
				return RuleSpec{}, err
			}
			selCount, selCountTok = &c, t
			if p.accept("AS") {
				a := p.peek()
				if a.kind != tokWord {
					return RuleSpec{}, p.errAt(a, "unexpected %s, want a name after AS", a.describe())
				}
				spec.Alias = a.text
				p.i++
			}
		default:
			if selKey != nil {
				return RuleSpec{}, p.errAt(t, "unsupported second field %s in SELECT: want only the key and COUNT(*)", t.text)
			}
			key, err := p.field("the key field or COUNT(*)")
			if err != nil {
				return RuleSpec{}, err
			}
			selKey = key
			if a := p.peek(); a.is("AS") {
				return RuleSpec{}, p.errAt(a, "unsupported alias on the key field %s", t.text)
			}
		}
		if !p.accept(",") {
			break
		}
	}

	if t := p.peek(); !p.accept("FROM") {
		if t.kind == tokEOF {
			return RuleSpec{}, p.errAt(t, "missing FROM <target>.win:time_batch(<n> <unit>)")
		}
		return RuleSpec{}, p.errAt(t, "unexpected %s, want ',' or FROM", t.describe())
	}
	if err := p.from(&spec); err != nil {
		return RuleSpec{}, err
	}

	switch t := p.peek(); {
	case t.is("WHERE"), t.is("GROUP"):
	case t.is(","), t.is("JOIN"), t.is("INNER"), t.is("LEFT"), t.is("RIGHT"), t.is("FULL"), t.is("OUTER"):
		return RuleSpec{}, p.errAt(t, "unsupported join: a query reads one target")
	case t.is("."):
		return RuleSpec{}, p.errAt(t, "unsupported chained view: want one win:time or win:time_batch")
	case t.kind == tokEOF:
		return RuleSpec{}, p.errAt(t, "missing GROUP BY <key>")
	default:
		return RuleSpec{}, p.errAt(t, "unexpected %s after FROM, want WHERE or GROUP BY", t.describe())
	}

	if p.accept("WHERE") {
		start := p.peek().off
		root, err := p.parseOr()
		if err != nil {
			return RuleSpec{}, err
		}
		spec.Where = strings.TrimSpace(q[start:p.peek().off])
		spec.Cond = &Cond{root: root}
		if t := p.peek(); !t.is("GROUP") {
			if t.kind == tokEOF {
				return RuleSpec{}, p.errAt(t, "missing GROUP BY <key>")
			}
			return RuleSpec{}, p.errAt(t, "unexpected %s, want AND, OR or GROUP BY", t.describe())
		}
	}

	p.next() // GROUP
	if err := p.expect("BY", "BY after GROUP"); err != nil {
		return RuleSpec{}, err
	}
	keyTok := p.peek()
	key, err := p.field("the key field after GROUP BY")
	if err != nil {
		return RuleSpec{}, err
	}
	if t := p.peek(); t.is(",") {
		return RuleSpec{}, p.errAt(t, "unsupported GROUP BY on several fields: want one key")
	}
	if selKey != nil && !slices.Equal(selKey, key) {
		return RuleSpec{}, p.errAt(keyTok, "GROUP BY %s does not match the SELECT key %s", keyTok.text, pathText(selKey))
	}
	spec.Key = key

	if t := p.peek(); !p.accept("HAVING") {
		if t.kind == tokEOF {
			return RuleSpec{}, p.errAt(t, "missing HAVING COUNT(*) >= <n>: a rule needs a threshold")
		}
		return RuleSpec{}, p.errAt(t, "unexpected %s, want HAVING COUNT(*) >= <n>", t.describe())
	}
	t := p.peek()
	if t.kind != tokWord || !p.peekAt(1).is("(") {
		return RuleSpec{}, p.errAt(t, "unexpected %s, want COUNT(*) >= <n>", t.describe())
	}
	having, err := p.countExpr()
	if err != nil {
		return RuleSpec{}, err
	}
	if selCount != nil && !slices.Equal(selCount.distinct, having.distinct) {
		return RuleSpec{}, p.errAt(t, "HAVING %s does not match %s in SELECT (line %d)", having, *selCount, p.lineOf(selCountTok))
	}
	spec.Distinct = having.distinct
	opTok := p.peek()
	o, ok := p.cmpOp()
	if !ok {
		return RuleSpec{}, p.errAt(opTok, "unexpected %s, want >= or > after %s", opTok.describe(), having)
	}
	if o != opGe && o != opGt {
		return RuleSpec{}, p.errAt(opTok, "unsupported HAVING %s %s: a rule fires as the count rises, want >= or >", having, cmpOpNames[o])
	}
	nt := p.peek()
	lo := 1 // >= n: n is the threshold; > n: n+1 is
	if o == opGt {
		lo = 0
	}
	n, err := strconv.Atoi(nt.text)
	if nt.kind != tokNumber || err != nil || n < lo || n > math.MaxInt32-1+lo {
		return RuleSpec{}, p.errAt(nt, "unexpected %s, want a whole number in [%d, %d]", nt.describe(), lo, math.MaxInt32-1+lo)
	}
	p.i++
	spec.Threshold = n + 1 - lo

	p.accept(";")
	switch t := p.peek(); {
	case t.kind == tokEOF:
		return spec, nil
	case t.is("AND"), t.is("OR"):
		return RuleSpec{}, p.errAt(t, "unsupported %s in HAVING: want one COUNT comparison", strings.ToUpper(t.text))
	case t.is("ORDER"), t.is("LIMIT"), t.is("OUTPUT"), t.is("UNION"):
		return RuleSpec{}, p.errAt(t, "unsupported %s clause after HAVING", strings.ToUpper(t.text))
	default:
		return RuleSpec{}, p.errAt(t, "unexpected %s after the query", t.describe())
	}
}

// countExpr is COUNT(*) (distinct nil) or COUNT(DISTINCT field).
type countExpr struct{ distinct chunk.Path }

func (c countExpr) String() string {
	if c.distinct == nil {
		return "COUNT(*)"
	}
	return "COUNT(DISTINCT " + pathText(c.distinct) + ")"
}

// countExpr parses COUNT(*) or COUNT(DISTINCT field); the next token is a
// word followed by '('.
func (p *parser) countExpr() (countExpr, error) {
	t := p.next()
	if !t.is("COUNT") {
		return countExpr{}, p.errAt(t, "unsupported aggregate %s: want COUNT(*) or COUNT(DISTINCT field)", strings.ToUpper(t.text))
	}
	p.next() // (
	var c countExpr
	switch u := p.peek(); {
	case p.accept("*"):
	case p.accept("DISTINCT"):
		d, err := p.field("a field after DISTINCT")
		if err != nil {
			return countExpr{}, err
		}
		c.distinct = d
	default:
		return countExpr{}, p.errAt(u, "unsupported COUNT(%s): want COUNT(*) or COUNT(DISTINCT field)", u.text)
	}
	if err := p.expect(")", "')' to close COUNT("); err != nil {
		return countExpr{}, err
	}
	return c, nil
}

// from parses <target>.win:<view>(<period>) after FROM.
func (p *parser) from(spec *RuleSpec) error {
	t := p.peek()
	if (t.kind != tokWord && t.kind != tokField) || strings.ContainsAny(t.text, "$[") {
		return p.errAt(t, "unexpected %s, want a target such as access.win:time_batch(1 min)", t.describe())
	}
	p.i++
	name := t.text
	if u := p.peek(); !u.is(":") {
		if u.is("#") {
			return p.errAt(u, "unsupported view syntax '#': write %s.win:time(<n> <unit>) or %s.win:time_batch(<n> <unit>)", name, name)
		}
		return p.errAt(t, "FROM %s has no window: want %s.win:time(<n> <unit>) or %s.win:time_batch(<n> <unit>)", name, name, name)
	}
	p.i++
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return p.errAt(t, "missing target before %s: want <target>.win:time_batch(<n> <unit>)", name)
	}
	spec.Target = name[:dot]
	ns := name[dot+1:]
	v := p.peek()
	if v.kind != tokWord {
		return p.errAt(v, "unexpected %s, want time or time_batch after %s:", v.describe(), ns)
	}
	switch {
	case strings.EqualFold(ns, "win") && strings.EqualFold(v.text, "time"):
		spec.WindowType = Sliding
	case strings.EqualFold(ns, "win") && strings.EqualFold(v.text, "time_batch"):
		spec.WindowType = Tumbling
	default:
		return p.errAtOffset(t.off+dot+1, "unsupported view %s:%s: want win:time or win:time_batch", ns, v.text)
	}
	p.i++
	if err := p.expect("(", "'(' after "+ns+":"+v.text); err != nil {
		return err
	}
	d, err := p.period()
	if err != nil {
		return err
	}
	spec.Window = d
	if u := p.peek(); u.is(",") {
		return p.errAt(u, "unsupported second parameter of %s:%s: want one time period", ns, v.text)
	}
	return p.expect(")", "')' after the time period")
}

// timeUnit returns the duration of one of Esper's time units, in any case.
func timeUnit(u string) (time.Duration, bool) {
	switch strings.ToLower(u) {
	case "msec", "millisecond", "milliseconds":
		return time.Millisecond, true
	case "sec", "second", "seconds":
		return time.Second, true
	case "min", "minute", "minutes":
		return time.Minute, true
	case "hour", "hours":
		return time.Hour, true
	case "day", "days":
		return 24 * time.Hour, true
	}
	return 0, false
}

// period parses a time period: <n> <unit> pairs, or one bare number of
// seconds.
func (p *parser) period() (time.Duration, error) {
	start := p.peek()
	total := 0.0 // nanoseconds
	for i := 0; ; i++ {
		t := p.peek()
		if t.kind != tokNumber {
			if i == 0 {
				return 0, p.errAt(t, "unexpected %s, want a time period such as 1 min", t.describe())
			}
			break
		}
		n, _ := parseNumber([]byte(t.text))
		v := n.float()
		if v < 0 {
			return 0, p.errAt(t, "negative time period %s", t.text)
		}
		p.i++
		u := p.peek()
		unit, ok := time.Duration(0), false
		if u.kind == tokWord {
			unit, ok = timeUnit(u.text)
			if !ok {
				return 0, p.errAt(u, "unsupported time unit %s: want msec, sec, min, hour or day", u.text)
			}
			p.i++
		} else if i == 0 && u.is(")") {
			unit = time.Second // Esper: a bare number is seconds
		} else {
			return 0, p.errAt(u, "unexpected %s, want a time unit after %s", u.describe(), t.text)
		}
		total += v * float64(unit)
	}
	ms := math.Round(total / float64(time.Millisecond))
	switch {
	case total <= 0:
		return 0, p.errAt(start, "window of zero length: want more than 0")
	case total > float64(MaxWindow):
		return 0, p.errAt(start, "window longer than %v", MaxWindow)
	case math.Abs(total-ms*float64(time.Millisecond)) > 1:
		return 0, p.errAt(start, "window of %v: want a whole number of milliseconds", time.Duration(total))
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// lineOf returns the line of t.
func (p *parser) lineOf(t token) int {
	return 1 + strings.Count(p.src[:t.off], "\n")
}

// pathText renders a field for messages and queries.
func pathText(p chunk.Path) string {
	var b strings.Builder
	formatPath(&b, p)
	return b.String()
}

// formatQuery renders s, a spec from ParseQuery, as a canonical query that
// ParseQuery turns back into the same rule.
func formatQuery(s RuleSpec) string {
	var b strings.Builder
	key := pathText(s.ResolvedKey())
	count := countExpr{s.Distinct}.String()
	b.WriteString("SELECT " + key + ", " + count)
	if s.Alias != "" {
		b.WriteString(" AS " + s.Alias)
	}
	view := "time"
	if s.WindowType == Tumbling {
		view = "time_batch"
	}
	b.WriteString(" FROM " + s.Target + ".win:" + view + "(" + formatPeriod(s.Window) + ")")
	if w := s.Cond.String(); w != "" {
		b.WriteString(" WHERE " + w)
	}
	b.WriteString(" GROUP BY " + key + " HAVING " + count + " >= " + strconv.Itoa(s.Threshold))
	return b.String()
}

// formatPeriod writes d in the largest Esper unit that divides it.
func formatPeriod(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "hour"}, {time.Minute, "min"}, {time.Second, "sec"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + " " + u.name
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " msec"
}
