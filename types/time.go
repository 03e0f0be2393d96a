package types

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/sqlerr"
)

// Dates are days since 1970-01-01; timestamps are microseconds since
// 1970-01-01 00:00:00 UTC (for TIMESTAMP, of the wall clock with no zone).

const usPerDay = 86400_000_000

// ParseDate parses YYYY-MM-DD (an optional time part is ignored as PG does not).
func ParseDate(s string) (int64, error) {
	ts := strings.TrimSpace(s)
	switch strings.ToLower(ts) {
	case "epoch":
		return 0, nil
	case "today":
		return time.Now().UTC().Unix() / 86400, nil
	}
	if i := strings.IndexAny(ts, " T"); i > 0 {
		ts = ts[:i]
	}
	t, err := time.Parse("2006-01-02", ts)
	if err != nil {
		if strings.Contains(err.Error(), "out of range") {
			return 0, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date/time field value out of range: %q", s)
		}
		return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type date: %q", s)
	}
	return t.Unix() / 86400, nil
}

// FormatDate formats days since the epoch as YYYY-MM-DD.
func FormatDate(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format("2006-01-02")
}

var tsLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseTimestamp parses a timestamp literal. For TIMESTAMPTZ a missing zone
// means the session zone loc; for TIMESTAMP a zone, if given, is ignored as
// PostgreSQL does.
func ParseTimestamp(s string, withTZ bool, loc *time.Location) (int64, error) {
	in := strings.TrimSpace(s)
	switch strings.ToLower(in) {
	case "epoch":
		return 0, nil
	case "now":
		return time.Now().UnixMicro(), nil
	}
	body, zone := splitZone(in)
	var t time.Time
	var err error
	for _, l := range tsLayouts {
		t, err = time.ParseInLocation(l, body, time.UTC)
		if err == nil {
			break
		}
	}
	if err != nil {
		if strings.Contains(err.Error(), "out of range") {
			return 0, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date/time field value out of range: %q", s)
		}
		return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type timestamp: %q", s)
	}
	if !withTZ {
		return t.UnixMicro(), nil
	}
	if zone == "" {
		if loc == nil {
			loc = time.UTC
		}
		lt := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
		return lt.UnixMicro(), nil
	}
	off, zl, err := parseZone(zone)
	if err != nil {
		return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type timestamp with time zone: %q", s)
	}
	if zl != nil {
		lt := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zl)
		return lt.UnixMicro(), nil
	}
	return t.UnixMicro() - int64(off)*1_000_000, nil
}

// splitZone separates a trailing zone (Z, +hh, +hh:mm, -hhmm, " UTC", " Europe/Paris").
func splitZone(s string) (body, zone string) {
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		return s[:len(s)-1], "Z"
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		last := s[i+1:]
		if len(last) > 0 && (last[0] < '0' || last[0] > '9') && last[0] != '+' && last[0] != '-' {
			return strings.TrimSpace(s[:i]), last
		}
	}
	// a sign after the time part (position > 10 skips the date's dashes)
	for i := len(s) - 1; i > 10; i-- {
		if s[i] == '+' || s[i] == '-' {
			return strings.TrimSpace(s[:i]), s[i:]
		}
		if s[i] == ' ' || s[i] == 'T' {
			break
		}
	}
	return s, ""
}

// parseZone returns a fixed offset in seconds, or a location for a name.
func parseZone(z string) (int, *time.Location, error) {
	if z == "Z" || strings.EqualFold(z, "utc") || strings.EqualFold(z, "gmt") {
		return 0, nil, nil
	}
	if z[0] == '+' || z[0] == '-' {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		body := strings.ReplaceAll(z[1:], ":", "")
		var h, m, sec int
		switch len(body) {
		case 1, 2:
			h, _ = strconv.Atoi(body)
		case 4:
			h, _ = strconv.Atoi(body[:2])
			m, _ = strconv.Atoi(body[2:])
		case 6:
			h, _ = strconv.Atoi(body[:2])
			m, _ = strconv.Atoi(body[2:4])
			sec, _ = strconv.Atoi(body[4:])
		default:
			return 0, nil, fmt.Errorf("bad zone")
		}
		return sign * (h*3600 + m*60 + sec), nil, nil
	}
	l, err := LoadZone(z)
	return 0, l, err
}

// LoadZone resolves a time zone name as SET TIME ZONE accepts it.
func LoadZone(name string) (*time.Location, error) {
	if strings.EqualFold(name, "utc") || strings.EqualFold(name, "gmt") || strings.EqualFold(name, "z") {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") || strings.EqualFold(name, "default") {
		return time.UTC, nil
	}
	if name != "" && (name[0] == '+' || name[0] == '-' || (name[0] >= '0' && name[0] <= '9')) {
		// a bare number is hours east of UTC as in SET TIME ZONE 2
		z := name
		if z[0] != '+' && z[0] != '-' {
			z = "+" + z
		}
		off, _, err := parseZone(z)
		if err != nil {
			return nil, err
		}
		return time.FixedZone(name, off), nil
	}
	return time.LoadLocation(name)
}

// FormatTimestamp formats µs since the epoch like PostgreSQL with DateStyle ISO.
func FormatTimestamp(us int64, withTZ bool, loc *time.Location) string {
	t := time.UnixMicro(us).UTC()
	if withTZ {
		if loc == nil {
			loc = time.UTC
		}
		t = t.In(loc)
	}
	var b strings.Builder
	b.WriteString(t.Format("2006-01-02 15:04:05"))
	if frac := t.Nanosecond() / 1000; frac != 0 {
		f := fmt.Sprintf(".%06d", frac)
		b.WriteString(strings.TrimRight(f, "0"))
	}
	if withTZ {
		_, off := t.Zone()
		sign := '+'
		if off < 0 {
			sign = '-'
			off = -off
		}
		fmt.Fprintf(&b, "%c%02d", sign, off/3600)
		if m, s := (off%3600)/60, off%60; m != 0 || s != 0 {
			fmt.Fprintf(&b, ":%02d", m)
			if s != 0 {
				fmt.Fprintf(&b, ":%02d", s)
			}
		}
	}
	return b.String()
}

func parseTimeOfDay(s string) (int64, error) {
	for _, l := range []string{"15:04:05.999999999", "15:04"} {
		if t, err := time.Parse(l, s); err == nil {
			return int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000), nil
		}
	}
	return 0, fmt.Errorf("bad time")
}

func formatTimeOfDay(us int64) string {
	h, m, s, f := us/3600e6, us/60e6%60, us/1e6%60, us%1e6
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if f != 0 {
		out += strings.TrimRight(fmt.Sprintf(".%06d", f), "0")
	}
	return out
}

var intervalUnits = map[string]IntervalValue{
	"microsecond": {Micros: 1}, "microseconds": {Micros: 1}, "us": {Micros: 1}, "usec": {Micros: 1}, "usecs": {Micros: 1},
	"millisecond": {Micros: 1000}, "milliseconds": {Micros: 1000}, "ms": {Micros: 1000}, "msec": {Micros: 1000}, "msecs": {Micros: 1000},
	"second": {Micros: 1e6}, "seconds": {Micros: 1e6}, "sec": {Micros: 1e6}, "secs": {Micros: 1e6}, "s": {Micros: 1e6},
	"minute": {Micros: 60e6}, "minutes": {Micros: 60e6}, "min": {Micros: 60e6}, "mins": {Micros: 60e6}, "m": {Micros: 60e6},
	"hour": {Micros: 3600e6}, "hours": {Micros: 3600e6}, "hr": {Micros: 3600e6}, "hrs": {Micros: 3600e6}, "h": {Micros: 3600e6},
	"day": {Days: 1}, "days": {Days: 1}, "d": {Days: 1},
	"week": {Days: 7}, "weeks": {Days: 7}, "w": {Days: 7},
	"month": {Months: 1}, "months": {Months: 1}, "mon": {Months: 1}, "mons": {Months: 1},
	"year": {Months: 12}, "years": {Months: 12}, "y": {Months: 12}, "yr": {Months: 12}, "yrs": {Months: 12},
	"decade": {Months: 120}, "decades": {Months: 120}, "century": {Months: 1200}, "centuries": {Months: 1200},
}

// IntervalUnit returns the interval of one unit (second, minute, ...).
func IntervalUnit(u string) (IntervalValue, bool) {
	v, ok := intervalUnits[strings.ToLower(u)]
	return v, ok
}

// ParseInterval parses PostgreSQL interval input: "1 hour", "5 minutes 3
// seconds", "1 day 02:00:00", "-00:00:05", "2 mons", "1h30m" and "@ 1 hour ago".
func ParseInterval(s string) (IntervalValue, error) {
	bad := func() (IntervalValue, error) {
		return IntervalValue{}, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type interval: %q", s)
	}
	in := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "@"))
	if in == "" {
		return bad()
	}
	ago := false
	if strings.HasSuffix(strings.ToLower(in), " ago") {
		ago = true
		in = strings.TrimSpace(in[:len(in)-4])
	}
	if d, err := time.ParseDuration(in); err == nil && strings.ContainsAny(in, "hms") && !strings.Contains(in, " ") {
		iv := IntervalValue{Micros: d.Microseconds()}
		if ago {
			iv = iv.Neg()
		}
		return iv, nil
	}
	var out IntervalValue
	f := strings.Fields(in)
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			neg := strings.HasPrefix(tok, "-")
			tok = strings.TrimLeft(tok, "+-")
			parts := strings.Split(tok, ":")
			if len(parts) > 3 {
				return bad()
			}
			var us int64
			mult := []float64{3600e6, 60e6, 1e6}
			for j, p := range parts {
				v, err := strconv.ParseFloat(p, 64)
				if err != nil {
					return bad()
				}
				us += int64(v*mult[j] + 0.5*sign(v))
			}
			if neg {
				us = -us
			}
			out.Micros += us
			continue
		}
		num, err := strconv.ParseFloat(tok, 64)
		unit := ""
		if err != nil {
			// number and unit glued: 5min, 10s
			j := 0
			for j < len(tok) && (tok[j] == '-' || tok[j] == '+' || tok[j] == '.' || (tok[j] >= '0' && tok[j] <= '9')) {
				j++
			}
			if j == 0 {
				return bad()
			}
			num, err = strconv.ParseFloat(tok[:j], 64)
			if err != nil {
				return bad()
			}
			unit = tok[j:]
		} else if i+1 < len(f) {
			unit = f[i+1]
			i++
		} else {
			unit = "second"
		}
		u, ok := intervalUnits[strings.ToLower(unit)]
		if !ok {
			return bad()
		}
		out = out.Add(u.Scale(num))
	}
	if ago {
		out = out.Neg()
	}
	return out, nil
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// Scale multiplies an interval by a factor, cascading fractions down as PG.
func (v IntervalValue) Scale(f float64) IntervalValue {
	months := float64(v.Months) * f
	wholeMonths := int32(months)
	days := float64(v.Days)*f + (months-float64(wholeMonths))*30
	wholeDays := int32(days)
	micros := float64(v.Micros)*f + (days-float64(wholeDays))*usPerDay
	return IntervalValue{Months: wholeMonths, Days: wholeDays, Micros: int64(micros + 0.5*sign(micros))}
}

// Add adds two intervals field by field.
func (v IntervalValue) Add(w IntervalValue) IntervalValue {
	return IntervalValue{Months: v.Months + w.Months, Days: v.Days + w.Days, Micros: v.Micros + w.Micros}
}

// Neg negates an interval.
func (v IntervalValue) Neg() IntervalValue {
	return IntervalValue{Months: -v.Months, Days: -v.Days, Micros: -v.Micros}
}

// ApproxMicros is the interval's length with a month of 30 days, as PG
// compares intervals.
func (v IntervalValue) ApproxMicros() int64 {
	return int64(v.Months)*30*usPerDay + int64(v.Days)*usPerDay + v.Micros
}

// FormatInterval formats in PostgreSQL's default IntervalStyle (postgres).
func FormatInterval(v IntervalValue) string {
	var parts []string
	plural := func(n int64, unit string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, unit)
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if y := v.Months / 12; y != 0 {
		parts = append(parts, plural(int64(y), "year"))
	}
	if m := v.Months % 12; m != 0 {
		if m == 1 {
			parts = append(parts, fmt.Sprintf("%d mon", m))
		} else {
			parts = append(parts, fmt.Sprintf("%d mons", m))
		}
	}
	if v.Days != 0 {
		parts = append(parts, plural(int64(v.Days), "day"))
	}
	if v.Micros != 0 || len(parts) == 0 {
		us := v.Micros
		neg := us < 0
		if neg {
			us = -us
		}
		s := fmt.Sprintf("%02d:%02d:%02d", us/3600e6, us/60e6%60, us/1e6%60)
		if f := us % 1e6; f != 0 {
			s += strings.TrimRight(fmt.Sprintf(".%06d", f), "0")
		}
		if neg {
			s = "-" + s
		} else if len(parts) > 0 && (v.Days < 0 || v.Months < 0) {
			s = "+" + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// AddInterval adds an interval to a timestamp in µs; months and days are
// calendar steps in zone loc (UTC for TIMESTAMP).
func AddInterval(us int64, v IntervalValue, loc *time.Location) int64 {
	if v.Months == 0 && v.Days == 0 {
		return us + v.Micros
	}
	if loc == nil {
		loc = time.UTC
	}
	t := time.UnixMicro(us).In(loc)
	if v.Months != 0 {
		// PostgreSQL keeps the day of month, clamped to the target month's end
		y, m, d := t.Date()
		first := time.Date(y, m, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc).AddDate(0, int(v.Months), 0)
		last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, loc).Day()
		if d > last {
			d = last
		}
		t = time.Date(first.Year(), first.Month(), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	}
	t = t.AddDate(0, 0, int(v.Days))
	return t.UnixMicro() + v.Micros
}
