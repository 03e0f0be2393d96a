package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// to_char(timestamp|date, format) with PostgreSQL's common template
// patterns; text in double quotes is copied.
func init() {
	Register(&Func{Name: "to_char", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 {
			return types.T{}, nil, false
		}
		t := args[0]
		switch t.Kind {
		case types.Timestamp, types.TimestampTZ:
		case types.Date, types.Unknown:
			t = types.TTimestamp
			if args[0].Kind == types.Unknown {
				t = types.TTimestampTZ
			}
		default:
			return types.T{}, nil, false
		}
		return types.TText, []types.T{t, types.TText}, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		if !types.TimestampFinite(a[0].I) {
			return types.NullDatum, nil // as PostgreSQL: no text for infinity
		}
		tm := timeOf(a[0].I)
		if at[0].Kind == types.TimestampTZ && ctx.Loc != nil {
			tm = tm.In(ctx.Loc)
		}
		s, err := formatTemplate(tm, a[1].S)
		return types.DText(s), err
	}})
}

var templatePatterns = []string{"YYYY", "YYY", "YY", "Month", "MONTH", "month", "Mon", "MON", "mon", "MM", "DDD", "DD", "Day", "DAY", "day",
	"Dy", "DY", "dy", "HH24", "HH12", "HH", "MI", "SS", "MS", "US", "AM", "PM", "am", "pm", "TZ", "tz", "Q", "D", "WW", "IW"}

func formatTemplate(t time.Time, f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); {
		if f[i] == '"' {
			j := strings.IndexByte(f[i+1:], '"')
			if j < 0 {
				return "", sqlerr.New(sqlerr.InvalidDatetimeFormat, "unterminated quoted string in format")
			}
			b.WriteString(f[i+1 : i+1+j])
			i += j + 2
			continue
		}
		fm := false
		if strings.HasPrefix(f[i:], "FM") {
			fm = true
			i += 2
		}
		matched := ""
		for _, p := range templatePatterns {
			if strings.HasPrefix(f[i:], p) {
				matched = p
				break
			}
		}
		if matched == "" {
			b.WriteByte(f[i])
			i++
			continue
		}
		i += len(matched)
		num := func(v, width int) {
			if fm {
				fmt.Fprintf(&b, "%d", v)
			} else {
				fmt.Fprintf(&b, "%0*d", width, v)
			}
		}
		pad := func(s string, width int) {
			if fm {
				b.WriteString(s)
			} else {
				fmt.Fprintf(&b, "%-*s", width, s)
			}
		}
		switch matched {
		case "YYYY":
			num(t.Year(), 4)
		case "YYY":
			num(t.Year()%1000, 3)
		case "YY":
			num(t.Year()%100, 2)
		case "Month":
			pad(t.Month().String(), 9)
		case "MONTH":
			pad(strings.ToUpper(t.Month().String()), 9)
		case "month":
			pad(strings.ToLower(t.Month().String()), 9)
		case "Mon":
			b.WriteString(t.Month().String()[:3])
		case "MON":
			b.WriteString(strings.ToUpper(t.Month().String()[:3]))
		case "mon":
			b.WriteString(strings.ToLower(t.Month().String()[:3]))
		case "MM":
			num(int(t.Month()), 2)
		case "DDD":
			num(t.YearDay(), 3)
		case "DD":
			num(t.Day(), 2)
		case "Day":
			pad(t.Weekday().String(), 9)
		case "DAY":
			pad(strings.ToUpper(t.Weekday().String()), 9)
		case "day":
			pad(strings.ToLower(t.Weekday().String()), 9)
		case "Dy":
			b.WriteString(t.Weekday().String()[:3])
		case "DY":
			b.WriteString(strings.ToUpper(t.Weekday().String()[:3]))
		case "dy":
			b.WriteString(strings.ToLower(t.Weekday().String()[:3]))
		case "HH24":
			num(t.Hour(), 2)
		case "HH12", "HH":
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			num(h, 2)
		case "MI":
			num(t.Minute(), 2)
		case "SS":
			num(t.Second(), 2)
		case "MS":
			num(t.Nanosecond()/1e6, 3)
		case "US":
			num(t.Nanosecond()/1e3, 6)
		case "AM", "PM":
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case "am", "pm":
			if t.Hour() < 12 {
				b.WriteString("am")
			} else {
				b.WriteString("pm")
			}
		case "TZ", "tz":
			name, _ := t.Zone()
			if matched == "tz" {
				name = strings.ToLower(name)
			}
			b.WriteString(name)
		case "Q":
			num((int(t.Month())-1)/3+1, 1)
		case "D":
			num(int(t.Weekday())+1, 1)
		case "WW":
			num((t.YearDay()-1)/7+1, 2)
		case "IW":
			_, w := t.ISOWeek()
			num(w, 2)
		}
	}
	return b.String(), nil
}
