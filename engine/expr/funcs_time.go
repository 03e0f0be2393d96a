package expr

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

var (
	tTS   = types.TTimestamp
	tTSTZ = types.TTimestampTZ
	tDate = types.TDate
	tIvl  = types.TInterval
)

func init() {
	now := func(ctx *Ctx, _ []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(ctx.Now), nil
	}
	for _, n := range []string{"now", "current_timestamp", "transaction_timestamp", "statement_timestamp"} {
		Register(&Func{Name: n, Volatile: true, Resolve: sig(tTSTZ), Row: now})
	}
	Register(&Func{Name: "pg_sleep", Strict: true, Volatile: true, Resolve: sig(types.TText, tF64), Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		d := time.Duration(a[0].F * float64(time.Second))
		t := time.NewTimer(d)
		defer t.Stop()
		if ctx.Go == nil {
			<-t.C
			return types.DText(""), nil
		}
		select {
		case <-t.C:
			return types.DText(""), nil
		case <-ctx.Go.Done():
			return types.Datum{}, sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		}
	}})
	Register(&Func{Name: "clock_timestamp", Volatile: true, Resolve: sig(tTSTZ), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return types.DInt(time.Now().UnixMicro()), nil
	}})
	Register(&Func{Name: "localtimestamp", Volatile: true, Resolve: sig(tTS), Row: func(ctx *Ctx, _ []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(localMicros(ctx, ctx.Now)), nil
	}})
	Register(&Func{Name: "current_date", Volatile: true, Resolve: sig(tDate), Row: func(ctx *Ctx, _ []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(floorDiv(localMicros(ctx, ctx.Now), 86400_000_000)), nil
	}})
	Register(&Func{Name: "date_trunc", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 && len(args) != 3 {
			return types.T{}, nil, false
		}
		t := args[1]
		switch t.Kind {
		case types.Timestamp, types.TimestampTZ, types.Interval:
		case types.Date:
			t = tTSTZ
		case types.Unknown:
			t = tTSTZ
		default:
			return types.T{}, nil, false
		}
		want := []types.T{tText, t}
		if len(args) == 3 {
			if t.Kind != types.TimestampTZ {
				return types.T{}, nil, false
			}
			want = append(want, tText)
		}
		return t, want, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		unit := strings.ToLower(a[0].S)
		if at[1].Kind == types.Interval {
			return truncInterval(unit, a[1])
		}
		if !types.TimestampFinite(a[1].I) {
			return a[1], nil
		}
		loc := (*time.Location)(nil)
		if at[1].Kind == types.TimestampTZ {
			loc = ctx.Loc
			if len(a) > 2 {
				l, err := types.LoadZone(a[2].S)
				if err != nil {
					return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "time zone %q not recognized", a[2].S)
				}
				loc = l
			}
		}
		return truncTime(unit, a[1].I, loc)
	}})
	for _, n := range []string{"date_part", "__extract"} {
		Register(&Func{Name: n, Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 2 {
				return types.T{}, nil, false
			}
			t := args[1]
			switch t.Kind {
			case types.Timestamp, types.TimestampTZ, types.Interval, types.Date, types.Time:
			case types.Unknown:
				t = tTSTZ
			default:
				return types.T{}, nil, false
			}
			ret := tF64
			if n == "__extract" {
				ret = tNum
			}
			return ret, []types.T{tText, t}, true
		}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, rt types.T) (types.Datum, error) {
			if inf := infiniteTime(at[1], a[1]); inf != 0 {
				return extractInfinite(strings.ToLower(a[0].S), inf, rt)
			}
			f, err := extractField(ctx, strings.ToLower(a[0].S), at[1], a[1])
			if err != nil {
				return types.Datum{}, err
			}
			if rt.Kind == types.Numeric {
				return extractNumeric(strings.ToLower(a[0].S), at[1], a[1], f)
			}
			return types.DFloat(f), nil
		}})
	}
	Register(&Func{Name: "to_timestamp", Strict: true, Resolve: sig(tTSTZ, tF64), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if math.IsNaN(a[0].F) || math.IsInf(a[0].F, 0) {
			return types.Datum{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range")
		}
		return types.DInt(int64(math.Round(a[0].F * 1e6))), nil
	}})
	Register(&Func{Name: "__at_time_zone", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 {
			return types.T{}, nil, false
		}
		switch args[0].Kind {
		case types.Timestamp:
			return tTSTZ, []types.T{tTS, tText}, true
		case types.TimestampTZ, types.Unknown:
			return tTS, []types.T{tTSTZ, tText}, true
		case types.Date:
			return tTSTZ, []types.T{tTS, tText}, true
		}
		return types.T{}, nil, false
	}, Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		loc, err := types.LoadZone(a[1].S)
		if err != nil {
			return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "time zone %q not recognized", a[1].S)
		}
		if !types.TimestampFinite(a[0].I) {
			return a[0], nil
		}
		if at[0].Kind == types.Timestamp {
			// wall clock in zone → instant
			t := timeOf(a[0].I)
			lt := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
			return types.DInt(lt.UnixMicro()), nil
		}
		t := timeOf(a[0].I).In(loc)
		_, off := t.Zone()
		return types.DInt(a[0].I + int64(off)*1_000_000), nil
	}})
	Register(&Func{Name: "timezone", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		f := Lookup("__at_time_zone")[0]
		if len(args) != 2 {
			return types.T{}, nil, false
		}
		ret, want, ok := f.Resolve([]types.T{args[1], args[0]})
		if !ok {
			return types.T{}, nil, false
		}
		return ret, []types.T{want[1], want[0]}, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, rt types.T) (types.Datum, error) {
		return Lookup("__at_time_zone")[0].Row(ctx, []types.Datum{a[1], a[0]}, []types.T{at[1], at[0]}, rt)
	}})
	Register(&Func{Name: "age", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 {
			return types.T{}, nil, false
		}
		t := tTSTZ
		if args[0].Kind == types.Timestamp && args[1].Kind == types.Timestamp {
			t = tTS
		}
		return tIvl, []types.T{t, t}, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, rt types.T) (types.Datum, error) {
		return types.Datum{Iv: ageOf(ctx, at[0], a[0].I, a[1].I)}, nil
	}})
	Register(&Func{Name: "make_interval", Strict: true, Resolve: anyArgs(tIvl, 1, 2, 3, 4, 5, 6, 7), Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		units := []string{"year", "month", "week", "day", "hour", "minute", "second"}
		var iv types.IntervalValue
		for i, d := range a {
			u, _ := types.IntervalUnit(units[i])
			iv = iv.Add(u.Scale(d.Approx(at[i].Kind)))
		}
		return types.Datum{Iv: iv}, nil
	}})
}

// infiniteTime is 1 or -1 for an infinite date or timestamp, else 0.
func infiniteTime(t types.T, d types.Datum) int {
	switch {
	case t.Kind == types.Date && d.I == types.DateInfinity,
		(t.Kind == types.Timestamp || t.Kind == types.TimestampTZ) && d.I == types.TimestampInfinity:
		return 1
	case t.Kind == types.Date && d.I == types.DateNegInfinity,
		(t.Kind == types.Timestamp || t.Kind == types.TimestampTZ) && d.I == types.TimestampNegInfinity:
		return -1
	}
	return 0
}

// extractInfinite is EXTRACT/date_part of an infinite time: the fields
// that grow with time are infinite too, the others NULL. streamsql's
// numeric has no infinity: EXTRACT (numeric) refuses those, date_part
// (double precision) answers them.
func extractInfinite(field string, sign int, rt types.T) (types.Datum, error) {
	switch field {
	case "year", "years", "decade", "decades", "century", "centuries", "millennium", "millennia", "julian", "isoyear", "epoch":
		if rt.Kind == types.Numeric {
			return types.Datum{}, sqlerr.Unsupported("EXTRACT(%s FROM an infinite time) is infinite, which numeric cannot hold here; use date_part('%s', ...)", strings.ToUpper(field), field)
		}
		return types.DFloat(math.Inf(sign)), nil
	}
	return types.NullDatum, nil
}

func init() {
	// isfinite(date | timestamp | timestamptz | interval)
	Register(&Func{Name: "isfinite", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 1 {
			return types.T{}, nil, false
		}
		switch args[0].Kind {
		case types.Date, types.Timestamp, types.TimestampTZ, types.Interval:
			return tBool, args, true
		case types.Unknown:
			return tBool, []types.T{tTSTZ}, true
		}
		return types.T{}, nil, false
	}, Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		return types.DBool(at[0].Kind == types.Interval || infiniteTime(at[0], a[0]) == 0), nil
	}})
}

func truncTime(unit string, us int64, loc *time.Location) (types.Datum, error) {
	t := timeOf(us)
	if loc != nil {
		t = t.In(loc)
	} else {
		loc = time.UTC
	}
	var r time.Time
	switch unit {
	case "microseconds", "microsecond":
		return types.DInt(us), nil
	case "milliseconds", "millisecond":
		r = t.Truncate(time.Millisecond)
	case "second", "seconds":
		r = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
	case "minute", "minutes":
		r = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc)
	case "hour", "hours":
		r = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
	case "day", "days":
		r = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	case "week", "weeks":
		wd := (int(t.Weekday()) + 6) % 7
		r = time.Date(t.Year(), t.Month(), t.Day()-wd, 0, 0, 0, 0, loc)
	case "month", "months":
		r = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	case "quarter":
		r = time.Date(t.Year(), t.Month()-(t.Month()-1)%3, 1, 0, 0, 0, 0, loc)
	case "year", "years":
		r = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, loc)
	case "decade":
		r = time.Date(t.Year()-t.Year()%10, 1, 1, 0, 0, 0, 0, loc)
	case "century":
		r = time.Date((t.Year()-1)/100*100+1, 1, 1, 0, 0, 0, 0, loc)
	default:
		return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "unit %q not recognized for type timestamp", unit)
	}
	return types.DInt(r.UnixMicro()), nil
}

func truncInterval(unit string, d types.Datum) (types.Datum, error) {
	iv := d.Iv
	switch unit {
	case "second", "seconds":
		iv.Micros -= iv.Micros % 1e6
	case "minute", "minutes":
		iv.Micros -= iv.Micros % 60e6
	case "hour", "hours":
		iv.Micros -= iv.Micros % 3600e6
	case "day", "days":
		iv.Micros = 0
	case "month", "months":
		iv.Micros, iv.Days = 0, 0
	case "year", "years":
		iv.Micros, iv.Days, iv.Months = 0, 0, iv.Months-iv.Months%12
	default:
		return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "unit %q not recognized for type interval", unit)
	}
	return types.Datum{Iv: iv}, nil
}

func extractField(ctx *Ctx, field string, t types.T, d types.Datum) (float64, error) {
	if t.Kind == types.Interval {
		iv := d.Iv
		switch field {
		case "epoch":
			return float64(iv.ApproxMicros()) / 1e6, nil
		case "year", "years":
			return float64(iv.Months / 12), nil
		case "month", "months":
			return float64(iv.Months % 12), nil
		case "day", "days":
			return float64(iv.Days), nil
		case "hour", "hours":
			return float64(iv.Micros / 3600e6), nil
		case "minute", "minutes":
			return float64(iv.Micros / 60e6 % 60), nil
		case "second", "seconds":
			return float64(iv.Micros%60e6) / 1e6, nil
		case "millisecond", "milliseconds":
			return float64(iv.Micros%60e6) / 1e3, nil
		case "microsecond", "microseconds":
			return float64(iv.Micros % 60e6), nil
		}
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "unit %q not recognized for type interval", field)
	}
	var us int64
	switch t.Kind {
	case types.Date:
		us = d.I * 86400_000_000
	case types.Time:
		us = d.I
	default:
		us = d.I
	}
	if field == "epoch" {
		return float64(us) / 1e6, nil
	}
	tm := timeOf(us)
	if t.Kind == types.TimestampTZ && ctx.Loc != nil {
		tm = tm.In(ctx.Loc)
	}
	switch field {
	case "year", "years":
		return float64(tm.Year()), nil
	case "month", "months":
		return float64(tm.Month()), nil
	case "day", "days":
		return float64(tm.Day()), nil
	case "hour", "hours":
		return float64(tm.Hour()), nil
	case "minute", "minutes":
		return float64(tm.Minute()), nil
	case "second", "seconds":
		return float64(tm.Second()) + float64(tm.Nanosecond())/1e9, nil
	case "millisecond", "milliseconds":
		return float64(tm.Second())*1e3 + float64(tm.Nanosecond())/1e6, nil
	case "microsecond", "microseconds":
		return float64(tm.Second())*1e6 + float64(tm.Nanosecond()/1000), nil
	case "dow":
		return float64(tm.Weekday()), nil
	case "isodow":
		return float64((int(tm.Weekday())+6)%7 + 1), nil
	case "doy":
		return float64(tm.YearDay()), nil
	case "week":
		_, w := tm.ISOWeek()
		return float64(w), nil
	case "quarter":
		return float64((tm.Month()-1)/3 + 1), nil
	case "decade":
		return float64(tm.Year() / 10), nil
	case "century":
		return float64((tm.Year() + 99) / 100), nil
	case "timezone":
		_, off := tm.Zone()
		return float64(off), nil
	}
	return 0, sqlerr.New(sqlerr.InvalidParameterValue, "unit %q not recognized for type %s", field, t)
}

func timeNowMicros() int64 { return time.Now().UnixMicro() }

// extractNumeric gives EXTRACT's NUMERIC result the scale PostgreSQL uses:
// six digits for seconds and epochs of timestamps and intervals, three for
// milliseconds, none otherwise.
func extractNumeric(field string, t types.T, d types.Datum, f float64) (types.Datum, error) {
	scale := 0
	switch field {
	case "epoch":
		if t.Kind != types.Date {
			scale = 6
		}
	case "second", "seconds":
		scale = 6
	case "millisecond", "milliseconds":
		scale = 3
	}
	dec, _, err := apd.NewFromString(strconv.FormatFloat(f, 'f', scale, 64))
	if err != nil {
		return types.Datum{}, err
	}
	return types.DText(types.FormatDecimal(dec)), nil
}

// ageOf is PostgreSQL's age(): a symbolic difference in years, months and
// days, borrowing field by field.
func ageOf(ctx *Ctx, t types.T, x, y int64) types.IntervalValue {
	loc := time.UTC
	if t.Kind == types.TimestampTZ && ctx.Loc != nil {
		loc = ctx.Loc
	}
	a, b := timeOf(x).In(loc), timeOf(y).In(loc)
	neg := a.Before(b)
	if neg {
		a, b = b, a
	}
	months := (a.Year()-b.Year())*12 + int(a.Month()) - int(b.Month())
	days := a.Day() - b.Day()
	us := (int64(a.Hour()-b.Hour())*3600+int64(a.Minute()-b.Minute())*60+int64(a.Second()-b.Second()))*1e6 + int64(a.Nanosecond()-b.Nanosecond())/1000
	if us < 0 {
		us += 86400e6
		days--
	}
	for days < 0 {
		// borrow the length of the earlier date's month, as PostgreSQL does
		days += time.Date(b.Year(), b.Month()+1, 0, 0, 0, 0, 0, loc).Day()
		months--
	}
	iv := types.IntervalValue{Months: int32(months), Days: int32(days), Micros: us}
	if neg {
		iv = iv.Neg()
	}
	return iv
}
