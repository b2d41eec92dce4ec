package resp

import (
	"bytes"
	"math"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Expiry. A deadline is absolute, in hybrid-clock milliseconds, and
// replicated with the key (crdt.Builder.Expire; docs/semantics.md). A
// write judges deadlines at its transaction's time (crdt.Builder.Now); a
// read outside a transaction at the node's wall clock, which the hybrid
// clock's physical part tracks within the replica's skew bound.

// clockReader is a keyspace read at one instant: expired keys read as
// absent.
type clockReader struct {
	ks  *crdt.Keyspace
	now uint64
}

func (r clockReader) Get(key []byte) *crdt.Value {
	if v := r.ks.Get(key); v != nil && !v.Expired(r.now) {
		return v
	}
	return nil
}

func (r clockReader) Now() uint64 { return r.now }

// wallMs is the node's wall clock in milliseconds, the instant reads
// judge deadlines at.
func wallMs() uint64 { return uint64(time.Now().UnixMilli()) }

// readView returns the view a read-only command runs on.
func readView(ks *crdt.Keyspace) view { return view{clockReader{ks: ks, now: wallMs()}} }

// now is the instant v judges deadlines at.
func (v view) now() uint64 {
	if c, ok := v.r.(interface{ Now() uint64 }); ok {
		return c.Now()
	}
	return wallMs()
}

func errInvalidExpire(cmd string) respErr {
	return respErr("ERR invalid expire time in '" + cmd + "' command")
}

// expireUnit says how an expiry argument is read: relative or absolute,
// seconds or milliseconds.
type expireUnit struct {
	seconds  bool
	absolute bool
}

// deadline converts an expiry argument to an absolute deadline in ms
// (which may be ≤ 0: already past), as Redis's expireGenericCommand does,
// including its overflow errors.
func (u expireUnit) deadline(cmd string, arg []byte, now uint64) (int64, error) {
	when, err := parseInt(arg)
	if err != nil {
		return 0, err
	}
	if u.seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			return 0, errInvalidExpire(cmd)
		}
		when *= 1000
	}
	if !u.absolute {
		if when > math.MaxInt64-int64(now) {
			return 0, errInvalidExpire(cmd)
		}
		when += int64(now)
	}
	return when, nil
}

// toDeadline clamps a Redis deadline to the crdt's: ≥ 1 (anything ≤ now
// deletes the key anyway).
func toDeadline(when int64) uint64 {
	if when < 1 {
		return 1
	}
	return uint64(when)
}

var (
	unitExpire    = expireUnit{seconds: true}
	unitPExpire   = expireUnit{}
	unitExpireAt  = expireUnit{seconds: true, absolute: true}
	unitPExpireAt = expireUnit{absolute: true}
)

func writeExpire(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return expire(tx, "expire", unitExpire, args, out)
}

func writePExpire(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return expire(tx, "pexpire", unitPExpire, args, out)
}

func writeExpireAt(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return expire(tx, "expireat", unitExpireAt, args, out)
}

func writePExpireAt(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return expire(tx, "pexpireat", unitPExpireAt, args, out)
}

// expire is EXPIRE key time [NX|XX|GT|LT] and its forms.
func expire(tx *crdt.Builder, cmd string, u expireUnit, args [][]byte, out []byte) ([]byte, error) {
	var nx, xx, gt, lt bool
	for _, a := range args[3:] {
		switch string(bytes.ToUpper(a)) {
		case "NX":
			nx = true
		case "XX":
			xx = true
		case "GT":
			gt = true
		case "LT":
			lt = true
		default:
			return out, respErr("ERR Unsupported option " + string(a))
		}
	}
	if nx && (xx || gt || lt) {
		return out, respErr("ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if gt && lt {
		return out, respErr("ERR GT and LT options at the same time are not compatible")
	}
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	when, err := u.deadline(cmd, args[2], tx.Now())
	if err != nil {
		return out, err
	}
	cur := tx.Get(key)
	if cur == nil {
		return redcon.AppendInt(out, 0), nil
	}
	d, has := cur.Deadline()
	switch {
	case nx && has, xx && !has, gt && (!has || when <= int64(d)), lt && has && when >= int64(d):
		return redcon.AppendInt(out, 0), nil
	}
	if _, err := tx.Expire(key, toDeadline(when)); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, 1), nil
}

func writePersist(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if err := checkKey(args[1]); err != nil {
		return out, err
	}
	ok, err := tx.Persist(args[1])
	if err != nil {
		return out, mutationError(err)
	}
	if ok {
		return redcon.AppendInt(out, 1), nil
	}
	return redcon.AppendInt(out, 0), nil
}

// ttl answers TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing
// key, -1 without a deadline, else the time left (or the deadline),
// seconds rounded to nearest as Redis does.
func ttl(v view, key []byte, ms, absolute bool, out []byte) []byte {
	val := v.get(key)
	if val == nil {
		return redcon.AppendInt(out, -2)
	}
	d, ok := val.Deadline()
	if !ok {
		return redcon.AppendInt(out, -1)
	}
	n := int64(d)
	if !absolute {
		n -= int64(v.now())
	}
	n = max(n, 0)
	if !ms {
		n = (n + 500) / 1000
	}
	return redcon.AppendInt(out, n)
}

func readTTL(v view, args [][]byte, out []byte) []byte { return ttl(v, args[1], false, false, out) }
func readPTTL(v view, args [][]byte, out []byte) []byte {
	return ttl(v, args[1], true, false, out)
}
func readExpireTime(v view, args [][]byte, out []byte) []byte {
	return ttl(v, args[1], false, true, out)
}
func readPExpireTime(v view, args [][]byte, out []byte) []byte {
	return ttl(v, args[1], true, true, out)
}

// expiryOption is a parsed EX/PX/EXAT/PXAT/KEEPTTL/PERSIST option of
// SET or GETEX. Like Redis, the loop over the options only checks their
// combination (the same one repeated is allowed, the last value wins);
// the time argument is read afterwards (resolve).
type expiryOption struct {
	kind    string // "EX", "PX", "EXAT", "PXAT", or "" for none
	arg     []byte
	keepTTL bool
	persist bool
}

// parse reads an expiry option at args[i] if there is one, returning how
// many arguments it took (0: not an expiry option, or not allowed in
// this combination: the caller's syntax error).
func (o *expiryOption) parse(args [][]byte, i int, allowKeep, allowPersist bool) int {
	opt := string(bytes.ToUpper(args[i]))
	switch opt {
	case "KEEPTTL":
		if !allowKeep || o.persist || o.kind != "" {
			return 0
		}
		o.keepTTL = true
		return 1
	case "PERSIST":
		if !allowPersist || o.keepTTL || o.kind != "" {
			return 0
		}
		o.persist = true
		return 1
	case "EX", "PX", "EXAT", "PXAT":
		if o.keepTTL || o.persist || (o.kind != "" && o.kind != opt) || i+1 == len(args) {
			return 0
		}
		o.kind, o.arg = opt, args[i+1]
		return 2
	}
	return 0
}

// resolve returns the absolute deadline in ms of an EX/PX/EXAT/PXAT
// option judged at now, with Redis's errors.
func (o *expiryOption) resolve(cmd string, now uint64) (int64, error) {
	u := map[string]expireUnit{"EX": unitExpire, "PX": unitPExpire, "EXAT": unitExpireAt, "PXAT": unitPExpireAt}[o.kind]
	n, err := parseInt(o.arg)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, errInvalidExpire(cmd)
	}
	return u.deadline(cmd, o.arg, now)
}

func writeSetEX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return setEx(tx, "setex", unitExpire, args, out)
}

func writePSetEX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return setEx(tx, "psetex", unitPExpire, args, out)
}

// setEx is SETEX key seconds value (PSETEX: milliseconds).
func setEx(tx *crdt.Builder, cmd string, u expireUnit, args [][]byte, out []byte) ([]byte, error) {
	key, value := args[1], args[3]
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkValue(value); err != nil {
		return out, err
	}
	n, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	if n <= 0 {
		return out, errInvalidExpire(cmd)
	}
	when, err := u.deadline(cmd, args[2], tx.Now())
	if err != nil {
		return out, err
	}
	if err := tx.Set(key, value); err != nil {
		return out, mutationError(err)
	}
	if _, err := tx.Expire(key, toDeadline(when)); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendOK(out), nil
}

// writeGetEx is GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST].
func writeGetEx(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	var o expiryOption
	for i := 2; i < len(args); {
		n := o.parse(args, i, false, true)
		if n == 0 {
			return out, errSyntax
		}
		i += n
	}
	// Redis checks the key (nil, WRONGTYPE) before the time argument.
	s, ok, err := stringOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if !ok {
		return redcon.AppendNull(out), nil
	}
	var when int64
	if o.kind != "" {
		if when, err = o.resolve("getex", tx.Now()); err != nil {
			return out, err
		}
	}
	res := redcon.AppendBulk(out, s) // copied before the write changes what s aliases
	switch {
	case o.kind != "":
		_, err = tx.Expire(key, toDeadline(when))
	case o.persist:
		_, err = tx.Persist(key)
	}
	if err != nil {
		return out, mutationError(err)
	}
	return res, nil
}
