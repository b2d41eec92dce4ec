package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/spooksystems/spook/internal/codec"
)

// The on-disk formats are drawn as tables in doc.go; these constants are
// their sizes and magic numbers. Every multi-byte integer is little-endian.
const (
	// segmentMagic opens every log segment.
	segmentMagic = "spooklog"
	// segmentVersion is the segment format version; a reader refuses any
	// other. Bump it (and keep reading the old one) to change the format.
	segmentVersion = 1
	// segmentHeaderBytes = magic 8 + version 4 + first index 8 + crc 4.
	segmentHeaderBytes = 8 + 4 + 8 + 4
	// recordHeaderBytes = length 4 + payload crc 4 + header crc 4.
	recordHeaderBytes = 4 + 4 + 4
	// scanBudgetBytes bounds the payload bytes validRecordFrom checksums
	// beyond the size of the region it scans. Garbage passes the header
	// check with odds of 2^-32, so only crafted payloads (frames inside a
	// record that a crash then tore) can spend it.
	scanBudgetBytes = 1 << 20
)

// castagnoli is the CRC-32C table, hardware-accelerated on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendSegmentHeader appends the header of a segment whose first record
// has index firstIndex.
func appendSegmentHeader(dst []byte, firstIndex uint64) []byte {
	start := len(dst)
	dst = append(dst, segmentMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, segmentVersion)
	dst = binary.LittleEndian.AppendUint64(dst, firstIndex)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeSegmentHeader returns the first index a segment header names, or
// the reason it is not a valid header.
func decodeSegmentHeader(b []byte) (firstIndex uint64, reason string) {
	r := codec.NewReader(b)
	magic := r.Raw("magic", len(segmentMagic))
	version := r.Raw("version", 4)
	first := r.Raw("first index", 8)
	sum := r.Raw("checksum", 4)
	switch {
	case r.Err() != nil:
		return 0, "short header"
	case string(magic) != segmentMagic:
		return 0, "bad magic"
	case crc32.Checksum(b[:segmentHeaderBytes-4], castagnoli) != binary.LittleEndian.Uint32(sum):
		return 0, "header checksum mismatch"
	case binary.LittleEndian.Uint32(version) != segmentVersion:
		return 0, fmt.Sprintf("unknown version %d", binary.LittleEndian.Uint32(version))
	}
	return binary.LittleEndian.Uint64(first), ""
}

// appendRecord appends the framing of payload and the payload.
func appendRecord(dst, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:start+8], castagnoli))
	return append(dst, payload...)
}

// recordHeaderAt checks the record header at data[off:] and returns the
// payload length, or the reason it is not a valid header. It costs O(1)
// whatever the length says.
func recordHeaderAt(data []byte, off int, maxRecordBytes int) (length int, reason string) {
	if len(data)-off < recordHeaderBytes {
		return 0, "truncated record header"
	}
	if crc32.Checksum(data[off:off+8], castagnoli) != binary.LittleEndian.Uint32(data[off+8:]) {
		return 0, "header checksum mismatch"
	}
	n := binary.LittleEndian.Uint32(data[off:])
	if uint64(n) > uint64(maxRecordBytes) {
		return 0, fmt.Sprintf("impossible length %d", n)
	}
	if uint64(n) > uint64(len(data)-off-recordHeaderBytes) {
		return 0, "truncated record"
	}
	return int(n), ""
}

// recordAt decodes the record at data[off:]. It returns the payload
// (aliasing data) and the offset just past the record, or the reason the
// bytes there are not a valid record.
func recordAt(data []byte, off int, maxRecordBytes int) (payload []byte, next int, reason string) {
	length, reason := recordHeaderAt(data, off, maxRecordBytes)
	if reason != "" {
		return nil, 0, reason
	}
	start := off + recordHeaderBytes
	payload = data[start : start+length]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[off+4:]) {
		return nil, 0, "checksum mismatch"
	}
	return payload, start + length, ""
}

// validRecordFrom reports whether a valid record may start at any offset
// at or after from. Recovery uses it to tell a torn tail (garbage to the
// end) from damage in the middle (a bad record followed by good ones).
// Each offset costs a header check; only offsets whose header checks out
// cost a payload checksum, and those are bounded by the scanned size
// plus scanBudgetBytes. Past the budget it answers true: when it cannot
// tell cheaply, recovery refuses rather than guess that data is torn.
func validRecordFrom(data []byte, from int, maxRecordBytes int) bool {
	budgetBytes := len(data) - from + scanBudgetBytes
	for p := from; p+recordHeaderBytes <= len(data); p++ {
		length, reason := recordHeaderAt(data, p, maxRecordBytes)
		if reason != "" {
			continue
		}
		if budgetBytes -= length; budgetBytes < 0 {
			return true
		}
		if _, _, reason := recordAt(data, p, maxRecordBytes); reason == "" {
			return true
		}
	}
	return false
}

// segmentScan is what scanSegment learned about one segment file.
type segmentScan struct {
	// firstIndex is the index the header names.
	firstIndex uint64
	// records is the number of valid records.
	records uint64
	// validBytes is the length of the valid prefix (header and whole
	// records); a torn tail starts there.
	validBytes int
	// headerTorn is set when the header itself is torn (last segment
	// only): the file holds no record and recovery removes it.
	headerTorn bool
	// tornReason says why the tail was cut, if validBytes < len(data).
	tornReason string
}

// scanSegment checks the segment in data (the whole file named name) and
// calls fn, if not nil, for each valid record in order. In the last
// segment (last == true) a damaged tail with no valid record after it is
// a torn write and is reported in the result; anything else that fails a
// check is a *CorruptionError. fn's payload aliases data.
func scanSegment(data []byte, name string, last bool, maxRecordBytes int, fn func(index uint64, payload []byte) error) (segmentScan, error) {
	var scan segmentScan
	first, reason := decodeSegmentHeader(data)
	if reason != "" {
		if !last || validRecordFrom(data, 0, maxRecordBytes) {
			return scan, &CorruptionError{What: "segment header", File: name, OffsetBytes: 0, Reason: reason}
		}
		scan.headerTorn, scan.tornReason = true, reason
		return scan, nil
	}
	scan.firstIndex = first
	off := segmentHeaderBytes
	for off < len(data) {
		payload, next, reason := recordAt(data, off, maxRecordBytes)
		if reason != "" {
			if !last {
				return scan, &CorruptionError{What: "record", File: name, OffsetBytes: int64(off), Reason: reason}
			}
			if validRecordFrom(data, off+1, maxRecordBytes) {
				return scan, &CorruptionError{What: "record", File: name, OffsetBytes: int64(off),
					Reason: reason + " followed by valid records"}
			}
			scan.tornReason = reason
			break
		}
		if fn != nil {
			if err := fn(first+scan.records, payload); err != nil {
				return scan, err
			}
		}
		scan.records++
		off = next
	}
	scan.validBytes = off
	return scan, nil
}
