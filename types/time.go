package types

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/sqlerr"
)

// Dates are days since 1970-01-01; timestamps are microseconds since
// 1970-01-01 00:00:00 UTC (for TIMESTAMP, of the wall clock with no zone).

const usPerDay = 86400_000_000

// Infinite dates and timestamps are the ends of their ranges, as in
// PostgreSQL: they sort after (before) every finite value.
const (
	TimestampInfinity    = math.MaxInt64
	TimestampNegInfinity = math.MinInt64
	DateInfinity         = math.MaxInt32
	DateNegInfinity      = math.MinInt32
)

// The finite range. It starts where PostgreSQL's does (4714-11-24 BC);
// microseconds since 1970 in 64 bits end in 294247, so streamsql stops
// at the start of 294247 (PostgreSQL goes on to 294276).
const (
	MinTimestamp = -210866803200_000_000     // 4714-11-24 00:00:00 BC
	EndTimestamp = 9223371244800_000_000 - 1 // 294246-12-31 23:59:59.999999
	MinDate      = -2440588                  // 4714-11-24 BC
	MaxDate      = 2145042905                // 5874897-12-31
)

// TimestampFinite reports whether us is a finite timestamp.
func TimestampFinite(us int64) bool { return us != TimestampInfinity && us != TimestampNegInfinity }

// DateFinite reports whether days is a finite date.
func DateFinite(days int64) bool { return days != DateInfinity && days != DateNegInfinity }

// CheckTimestamp refuses a finite timestamp outside the range (22008).
func CheckTimestamp(us int64) error {
	if TimestampFinite(us) && (us < MinTimestamp || us > EndTimestamp) {
		return errTimestampRange
	}
	return nil
}

var (
	errTimestampRange = sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range")
	errDateRange      = sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range")
)

// infinity reads "infinity", "+infinity" and "-infinity": sign 1 or -1,
// 0 for anything else.
func infinity(s string) int {
	switch strings.ToLower(s) {
	case "infinity", "+infinity":
		return 1
	case "-infinity":
		return -1
	}
	return 0
}

// ParseDate parses YYYY-MM-DD (any number of year digits, an optional BC;
// a time part is ignored as PostgreSQL does), 'infinity' and '-infinity'.
func ParseDate(s string) (int64, error) {
	ts := strings.TrimSpace(s)
	switch strings.ToLower(ts) {
	case "epoch":
		return 0, nil
	case "today":
		return time.Now().UTC().Unix() / 86400, nil
	}
	switch infinity(ts) {
	case 1:
		return DateInfinity, nil
	case -1:
		return DateNegInfinity, nil
	}
	// a time and a zone may follow; the zone must be one, and is ignored
	body, zone := splitZone(ts)
	if n := len(ts); zone != "" && n > 3 && ts[n-3] == ' ' && (strings.EqualFold(zone, "bc") || strings.EqualFold(zone, "ad")) {
		body, zone = ts, "" // an era, not a zone
	}
	if zone != "" {
		if _, _, err := parseZone(zone); err != nil {
			return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type date: %q", s)
		}
	}
	p, err := parseDateTime(body, "date", s)
	if err != nil {
		return 0, err
	}
	days := civilDays(p.y, p.mo, p.d)
	if days < MinDate || days > MaxDate {
		return 0, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range: %q", s)
	}
	return days, nil
}

// civilDays is the number of days from 1970-01-01 to a proleptic
// Gregorian date (year 0 is 1 BC).
func civilDays(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// FormatDate formats days since the epoch as YYYY-MM-DD (with BC before
// year 1), or infinity.
func FormatDate(days int64) string {
	switch days {
	case DateInfinity:
		return "infinity"
	case DateNegInfinity:
		return "-infinity"
	}
	t := time.Unix(days*86400, 0).UTC()
	return formatYear(t.Year()) + t.Format("-01-02") + bcSuffix(t.Year())
}

// formatYear writes a year as PostgreSQL does: at least four digits,
// years before 1 counted back from 1 BC.
func formatYear(y int) string {
	if y <= 0 {
		y = 1 - y
	}
	return fmt.Sprintf("%04d", y)
}

func bcSuffix(y int) string {
	if y <= 0 {
		return " BC"
	}
	return ""
}

// dateTime is a date/time literal's fields.
type dateTime struct {
	y, mo, d    int
	h, mi, sec  int
	nanos       int
	hasTime     bool
	wallSeconds int64 // seconds since 1970 of the fields as UTC
}

// parseDateTime reads Y-M-D[( |T)H:M[:S[.frac]]][ BC] (zone already split
// off). typ names the type in errors, orig is the whole input.
func parseDateTime(s, typ, orig string) (dateTime, error) {
	bad := func() (dateTime, error) {
		return dateTime{}, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type %s: %q", typ, orig)
	}
	overflow := func() (dateTime, error) {
		return dateTime{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date/time field value out of range: %q", orig)
	}
	var p dateTime
	bc := false
	if n := len(s); n > 3 && (s[n-3] == ' ') && (strings.EqualFold(s[n-2:], "bc") || strings.EqualFold(s[n-2:], "ad")) {
		bc = strings.EqualFold(s[n-2:], "bc")
		s = strings.TrimSpace(s[:n-3])
	}
	i := 0
	num := func(maxDigits int) (int, bool) {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-j < maxDigits {
			i++
		}
		if i == j {
			return 0, false
		}
		v, err := strconv.Atoi(s[j:i])
		return v, err == nil
	}
	var ok bool
	if p.y, ok = num(9); !ok || i >= len(s) || s[i] != '-' {
		return bad()
	}
	i++
	if p.mo, ok = num(2); !ok || i >= len(s) || s[i] != '-' {
		return bad()
	}
	i++
	if p.d, ok = num(2); !ok {
		return bad()
	}
	if i < len(s) {
		if s[i] != ' ' && s[i] != 'T' && s[i] != 't' {
			return bad()
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i < len(s) && (s[i] == 'T' || s[i] == 't') {
			i++
		}
		p.hasTime = true
		if p.h, ok = num(2); !ok || i >= len(s) || s[i] != ':' {
			return bad()
		}
		i++
		if p.mi, ok = num(2); !ok {
			return bad()
		}
		if i < len(s) && s[i] == ':' {
			i++
			if p.sec, ok = num(2); !ok {
				return bad()
			}
			if i < len(s) && s[i] == '.' {
				i++
				j := i
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				frac := s[j:i]
				if len(frac) > 9 {
					frac = frac[:9]
				}
				f, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
				// PostgreSQL keeps microseconds, rounding the rest
				p.nanos = (f + 500) / 1000 * 1000
			}
		}
		if i != len(s) {
			return bad()
		}
	}
	if bc {
		if p.y == 0 {
			return bad()
		}
		p.y = 1 - p.y
	}
	if p.mo < 1 || p.mo > 12 || p.d < 1 || p.d > daysIn(p.y, p.mo) {
		return overflow()
	}
	if p.h > 24 || p.mi > 59 || p.sec > 60 || (p.h == 24 && (p.mi != 0 || p.sec != 0 || p.nanos != 0)) {
		return overflow()
	}
	p.wallSeconds = civilDays(p.y, p.mo, p.d)*86400 + int64(p.h)*3600 + int64(p.mi)*60 + int64(p.sec)
	return p, nil
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
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
	switch infinity(in) {
	case 1:
		return TimestampInfinity, nil
	case -1:
		return TimestampNegInfinity, nil
	}
	typ := "timestamp"
	if withTZ {
		typ = "timestamp with time zone"
	}
	body, zone := splitZone(in)
	if n := len(in); zone != "" && n > 3 && in[n-3] == ' ' && (strings.EqualFold(zone, "bc") || strings.EqualFold(zone, "ad")) {
		body, zone = in, "" // an era, not a zone
	}
	p, err := parseDateTime(body, typ, s)
	if err != nil {
		return 0, err
	}
	outOfRange := sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: %q", s)
	// far outside the range before any arithmetic can overflow
	if p.wallSeconds < MinTimestamp/1_000_000-2*86400 || p.wallSeconds > EndTimestamp/1_000_000+2*86400 {
		return 0, outOfRange
	}
	wall := p.wallSeconds*1e6 + int64(p.nanos/1000)
	us := wall
	if withTZ {
		switch {
		case zone == "":
			us = wallToUTC(p, loc)
		default:
			off, zl, err := parseZone(zone)
			if err != nil {
				return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type timestamp with time zone: %q", s)
			}
			if zl != nil {
				us = wallToUTC(p, zl)
			} else {
				us = wall - int64(off)*1_000_000
			}
		}
	}
	if us < MinTimestamp || us > EndTimestamp {
		return 0, outOfRange
	}
	return us, nil
}

// wallToUTC is the instant of a wall-clock time in zone loc.
func wallToUTC(p dateTime, loc *time.Location) int64 {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(p.y, time.Month(p.mo), p.d, p.h, p.mi, p.sec, p.nanos, loc).UnixMicro()
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

// FormatTimestamp formats µs since the epoch like PostgreSQL with DateStyle
// ISO (BC after the time, before any zone; infinity as a word).
func FormatTimestamp(us int64, withTZ bool, loc *time.Location) string {
	switch us {
	case TimestampInfinity:
		return "infinity"
	case TimestampNegInfinity:
		return "-infinity"
	}
	t := time.UnixMicro(us).UTC()
	if withTZ {
		if loc == nil {
			loc = time.UTC
		}
		t = t.In(loc)
	}
	var b strings.Builder
	b.WriteString(formatYear(t.Year()))
	b.WriteString(t.Format("-01-02 15:04:05"))
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
	b.WriteString(bcSuffix(t.Year()))
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
		part, err := u.CheckedScale(num)
		if err != nil {
			return IntervalValue{}, err
		}
		if out, err = out.CheckedAdd(part); err != nil {
			return IntervalValue{}, err
		}
	}
	if ago {
		return out.CheckedNeg()
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
// The caller knows the result fits (CheckedScale checks).
func (v IntervalValue) Scale(f float64) IntervalValue {
	r, _ := v.CheckedScale(f)
	return r
}

var errIntervalRange = sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")

// CheckedScale is Scale refusing a result whose months or days do not fit
// in 32 bits or whose time does not fit in 64 (22008).
func (v IntervalValue) CheckedScale(f float64) (IntervalValue, error) {
	months := float64(v.Months) * f
	if math.IsNaN(months) || months >= math.MaxInt32+1 || months <= math.MinInt32-1 {
		return IntervalValue{}, errIntervalRange
	}
	wholeMonths := int32(months)
	days := float64(v.Days)*f + (months-float64(wholeMonths))*30
	if math.IsNaN(days) || days >= math.MaxInt32+1 || days <= math.MinInt32-1 {
		return IntervalValue{}, errIntervalRange
	}
	wholeDays := int32(days)
	micros := float64(v.Micros)*f + (days-float64(wholeDays))*usPerDay
	micros += 0.5 * sign(micros)
	if math.IsNaN(micros) || micros >= math.MaxInt64 || micros < math.MinInt64 {
		return IntervalValue{}, errIntervalRange
	}
	return IntervalValue{Months: wholeMonths, Days: wholeDays, Micros: int64(micros)}, nil
}

// Add adds two intervals field by field (the caller knows the sum fits).
func (v IntervalValue) Add(w IntervalValue) IntervalValue {
	return IntervalValue{Months: v.Months + w.Months, Days: v.Days + w.Days, Micros: v.Micros + w.Micros}
}

// CheckedAdd is Add refusing a field that overflows (22008).
func (v IntervalValue) CheckedAdd(w IntervalValue) (IntervalValue, error) {
	m := int64(v.Months) + int64(w.Months)
	d := int64(v.Days) + int64(w.Days)
	us := v.Micros + w.Micros
	if m != int64(int32(m)) || d != int64(int32(d)) || (us > v.Micros) != (w.Micros > 0) && w.Micros != 0 {
		return IntervalValue{}, errIntervalRange
	}
	return IntervalValue{Months: int32(m), Days: int32(d), Micros: us}, nil
}

// Neg negates an interval.
func (v IntervalValue) Neg() IntervalValue {
	return IntervalValue{Months: -v.Months, Days: -v.Days, Micros: -v.Micros}
}

// CheckedNeg is Neg refusing the one value of each field with no negation.
func (v IntervalValue) CheckedNeg() (IntervalValue, error) {
	if v.Months == math.MinInt32 || v.Days == math.MinInt32 || v.Micros == math.MinInt64 {
		return IntervalValue{}, errIntervalRange
	}
	return v.Neg(), nil
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
// calendar steps in zone loc (UTC for TIMESTAMP). Infinite timestamps stay
// as they are; a result past the range is an error (22008).
func AddInterval(us int64, v IntervalValue, loc *time.Location) (int64, error) {
	if !TimestampFinite(us) {
		return us, nil
	}
	if v.Months == 0 && v.Days == 0 {
		r := us + v.Micros
		if (r > us) != (v.Micros > 0) && v.Micros != 0 {
			return 0, errTimestampRange
		}
		return r, CheckTimestamp(r)
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
	// seconds first: UnixMicro of a year past the range would wrap
	if sec := t.Unix(); sec < MinTimestamp/1_000_000-1 || sec > EndTimestamp/1_000_000+1 {
		return 0, errTimestampRange
	}
	base := t.UnixMicro()
	r := base + v.Micros
	if (r > base) != (v.Micros > 0) && v.Micros != 0 {
		return 0, errTimestampRange
	}
	return r, CheckTimestamp(r)
}
