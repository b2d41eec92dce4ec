package codec

import (
	"errors"
	"math"
	"testing"
)

func TestVarintRoundTrip(t *testing.T) {
	values := []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64, 1 << 40}
	var buf []byte
	for _, v := range values {
		buf = AppendVarint(buf, v)
		buf = AppendUvarint(buf, uint64(v))
	}
	r := NewReader(buf)
	for _, v := range values {
		if got := r.Varint("v"); got != v {
			t.Fatalf("Varint = %d, want %d", got, v)
		}
		if got := r.Uvarint("u"); got != uint64(v) {
			t.Fatalf("Uvarint = %d, want %d", got, uint64(v))
		}
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint64{0, 127, 128, 1 << 63} {
		if got, want := UvarintLen(v), len(AppendUvarint(nil, v)); got != want {
			t.Fatalf("UvarintLen(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestReaderRefusals(t *testing.T) {
	r := NewReader(AppendBytes(nil, []byte("hello")))
	if r.Bytes("s", 4); !errors.Is(r.Err(), ErrTooLong) {
		t.Fatalf("over-limit bytes: err = %v", r.Err())
	}
	r = NewReader([]byte{5, 'a'})
	if r.Bytes("s", 100); !errors.Is(r.Err(), ErrTruncated) {
		t.Fatalf("short bytes: err = %v", r.Err())
	}
	r = NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	if r.Uvarint("v"); !errors.Is(r.Err(), ErrOverflow) {
		t.Fatalf("overlong varint: err = %v", r.Err())
	}
	r = NewReader(AppendUvarint(nil, 1000))
	if r.Count("n", 10_000, 1); !errors.Is(r.Err(), ErrTruncated) {
		t.Fatalf("count beyond input: err = %v", r.Err())
	}
	r = NewReader([]byte{1, 2})
	r.Byte("b")
	if err := r.Finish(); !errors.Is(err, ErrTrailing) {
		t.Fatalf("trailing: err = %v", err)
	}
}
