package types

import (
	"math"
	"testing"
	"time"
)

// Values survive text → datum → binary → datum → text unchanged.
func TestRoundTrips(t *testing.T) {
	cases := []struct {
		t    T
		text string
	}{
		{TBool, "t"}, {TBool, "f"},
		{TInt16, "-32768"}, {TInt32, "2147483647"}, {TInt64, "-9223372036854775808"},
		{TFloat32, "1.5"}, {TFloat64, "0.1"}, {TFloat64, "1e+300"}, {TFloat64, "-Infinity"}, {TFloat64, "NaN"},
		{TNumeric, "0"}, {TNumeric, "123.4500"}, {TNumeric, "-0.0001"}, {TNumeric, "100000000000000000000.5"}, {TNumeric, "NaN"},
		{TText, "héllo, wörld"}, {TVarchar, ""}, {TBytea, `\xdeadbeef`},
		{TDate, "2024-02-29"}, {TDate, "1969-12-31"},
		{TTimestamp, "2024-05-06 07:08:09.123456"}, {TTimestamp, "1999-12-31 23:59:59"},
		{TTimestampTZ, "2024-05-06 07:08:09+00"},
		{TInterval, "1 year 2 mons 3 days 04:05:06.5"}, {TInterval, "-00:00:05"}, {TInterval, "-1 days"},
		{TJSONB, `{"a": [1, 2], "b": null}`},
		{TTextArray, `{a,"b c",NULL}`}, {ArrayOf(TInt64), "{1,2,3}"}, {TInt2Vector, "{1,2}"},
	}
	for _, c := range cases {
		d, err := ParseText(c.t, c.text, time.UTC)
		if err != nil {
			t.Errorf("%s %q: %v", c.t, c.text, err)
			continue
		}
		if got := FormatText(c.t, d, time.UTC); got != c.text {
			t.Errorf("%s: text %q came back as %q", c.t, c.text, got)
		}
		bin, err := AppendBinary(nil, c.t, d)
		if err != nil {
			t.Errorf("%s %q: binary: %v", c.t, c.text, err)
			continue
		}
		d2, err := ParseBinary(c.t, bin)
		if err != nil {
			t.Errorf("%s %q: from binary: %v", c.t, c.text, err)
			continue
		}
		if got := FormatText(c.t, d2, time.UTC); got != c.text && !(c.t.Kind == Float64 && math.IsNaN(d2.F)) {
			t.Errorf("%s: binary round trip of %q gave %q", c.t, c.text, got)
		}
	}
}

func TestFloatFormatMatchesPostgres(t *testing.T) {
	for f, want := range map[float64]string{
		1234567: "1234567", 1e15: "1e+15", 123456789012345.6: "123456789012345.6", 0.0001: "0.0001",
		0.00001: "1e-05", 2.5: "2.5", math.Copysign(0, -1): "-0", 100: "100",
	} {
		if got := FormatFloat(f, 64); got != want {
			t.Errorf("%v: got %q want %q", f, got, want)
		}
	}
	if got := FormatFloat(float64(float32(0.1)), 32); got != "0.1" {
		t.Errorf("real 0.1: %q", got)
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		t    T
		text string
	}{
		{TInt32, "12x"}, {TInt16, "40000"}, {TBool, "maybe"}, {TDate, "2024-13-01"}, {TNumeric, "1.2.3"},
		{T{Kind: Numeric, Mod: 5<<16 | 2}, "12345.6"}, {T{Kind: Text, Mod: 2, Name: "varchar"}, "abc"}, {TJSONB, "{"},
	} {
		if _, err := ParseText(c.t, c.text, time.UTC); err == nil {
			t.Errorf("%s accepted %q", c.t, c.text)
		}
	}
}
