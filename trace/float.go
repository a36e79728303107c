package trace

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The JSON spellings of the values a JSON number cannot hold, the same in
// traces and evidence.
const (
	jsonNaN    = `"NaN"`
	jsonPosInf = `"+Inf"`
	jsonNegInf = `"-Inf"`
)

// appendFloat appends x as JSON: the shortest decimal that reads back to
// the same value at the given bit size (32 or 64), or one of the strings
// "NaN", "+Inf", "-Inf".
func appendFloat(b []byte, x float64, bitSize int) []byte {
	switch {
	case math.IsNaN(x):
		return append(b, jsonNaN...)
	case math.IsInf(x, 1):
		return append(b, jsonPosInf...)
	case math.IsInf(x, -1):
		return append(b, jsonNegInf...)
	}
	return strconv.AppendFloat(b, x, 'g', -1, bitSize)
}

// parseFloat reads what appendFloat writes.
func parseFloat(b []byte, bitSize int) (float64, error) {
	switch string(b) {
	case jsonNaN:
		return math.NaN(), nil
	case jsonPosInf:
		return math.Inf(1), nil
	case jsonNegInf:
		return math.Inf(-1), nil
	}
	x, err := strconv.ParseFloat(string(b), bitSize)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number, \"NaN\", \"+Inf\" or \"-Inf\"", b)
	}
	return x, nil
}

// Float is a float64 that survives JSON: NaN and the infinities, which a
// failing gate must be able to record, are written as the strings "NaN",
// "+Inf" and "-Inf" (plain JSON numbers cannot hold them).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) { return appendFloat(nil, float64(f), 64), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	x, err := parseFloat(b, 64)
	if err != nil {
		return err
	}
	*f = Float(x)
	return nil
}

// Vector is a float32 vector whose JSON form round-trips every bit: finite
// values as the shortest decimal that reads back to the same float32, and
// NaN, +Inf, -Inf as the strings "NaN", "+Inf", "-Inf".
type Vector []float32

// MarshalJSON implements json.Marshaler.
func (v Vector) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	b := make([]byte, 0, 2+len(v)*12)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, float64(x), 32)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Vector) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Vector, len(raw))
	for i, r := range raw {
		x, err := parseFloat(r, 32)
		if err != nil {
			return fmt.Errorf("vector element %d: %w", i, err)
		}
		out[i] = float32(x)
	}
	*v = out
	return nil
}

// MarshalJSON writes [lo, hi].
func (b Band) MarshalJSON() ([]byte, error) { return json.Marshal([2]Float{Float(b.Lo), Float(b.Hi)}) }

// UnmarshalJSON reads [lo, hi].
func (b *Band) UnmarshalJSON(data []byte) error {
	var a [2]Float
	if err := json.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("band: %w", err)
	}
	b.Lo, b.Hi = float64(a[0]), float64(a[1])
	return nil
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
