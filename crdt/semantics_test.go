package crdt

import (
	"testing"
)

// TestSequentialSemantics checks that one replica behaves as Redis does
// for the commands the API maps onto the Builder.
func TestSequentialSemantics(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
	}{
		{"set get", []string{"GET k -> (nil)", "SET k v -> OK", "GET k -> v", "SET k w -> OK", "GET k -> w", "TYPE k -> register"}},
		{"del", []string{"SET k v", "DEL k -> 1", "GET k -> (nil)", "DEL k -> 0", "TYPE k -> none"}},
		{"incr new", []string{"INCR k -> 1", "INCRBY k 41 -> 42", "INCRBY k -50 -> -8", "GET k -> -8", "TYPE k -> counter"}},
		{"incr integer string", []string{"SET k 10", "INCR k -> 11", "GET k -> 11", "TYPE k -> counter", "INCRBY k -20 -> -9"}},
		{"incr negative string", []string{"SET k -5", "INCR k -> -4"}},
		{"incr non-integer", []string{"SET k abc", "INCR k -> ERR not integer", "GET k -> abc"}},
		{"incr non-canonical integer", []string{"SET k 007", "INCR k -> ERR not integer", "SET k +1", "INCR k -> ERR not integer", "SET k -0", "INCR k -> ERR not integer", `SET k ""`, "INCR k -> ERR not integer"}},
		{"incr overflow", []string{"SET k 9223372036854775806", "INCR k -> 9223372036854775807", "INCR k -> ERR overflow", "GET k -> 9223372036854775807", "INCRBY k -1 -> 9223372036854775806"}},
		{"incr underflow", []string{"INCRBY k -9223372036854775807 -> -9223372036854775807", "INCRBY k -1 -> -9223372036854775808", "INCRBY k -1 -> ERR overflow"}},
		{"incr overflow of string", []string{"SET k 9223372036854775807", "INCR k -> ERR overflow", "GET k -> 9223372036854775807", "TYPE k -> register"}},
		{"history before a delete does not limit", []string{"INCRBY k 9223372036854775807", "DEL k", "INCR k -> 1", "DEL k", "INCRBY k -1 -> -1"}},
		{"set over counter", []string{"INCRBY k 5", "SET k x", "GET k -> x", "INCR k -> ERR not integer", "SET k 3", "INCR k -> 4"}},
		{"counter after delete", []string{"INCRBY k 5", "DEL k -> 1", "GET k -> (nil)", "INCR k -> 1", "GET k -> 1"}},
		{"sadd srem", []string{"SADD s a b c -> 3", "SADD s a d -> 1", "SCARD s -> 4", "SREM s a x -> 1", "SREM s a -> 0", "SMEMBERS s -> [b c d]", "SISMEMBER s b -> 1", "TYPE s -> set"}},
		{"sadd duplicate args", []string{"SADD s a a -> 1", "SREM s a a -> 1", "SMEMBERS s -> []", "TYPE s -> none"}},
		{"set emptied", []string{"SADD s a", "SREM s a -> 1", "GET s -> (nil)", "SET s v", "GET s -> v"}},
		{"wrong types", []string{"SET k v", "SADD k a -> WRONGTYPE", "HSET k f v -> WRONGTYPE", "SREM k a -> WRONGTYPE", "HDEL k f -> WRONGTYPE", "SADD s a", "INCR s -> WRONGTYPE", "HSET s f v -> WRONGTYPE", "HSET h f v", "SADD h a -> WRONGTYPE", "INCR h -> WRONGTYPE", "INCR c", "SADD c a -> WRONGTYPE"}},
		{"set overwrites any type", []string{"SADD k a", "SET k v -> OK", "GET k -> v", "HSET h f v", "SET h w", "GET h -> w", "HLEN h -> 0"}},
		{"hset counts new fields", []string{"HSET h f 1 -> 1", "HSET h f 2 -> 0", "HSET h g 3 -> 1", "HLEN h -> 2", "HGET h f -> 2", "HGETALL h -> [f=2 g=3]", "TYPE h -> map"}},
		{"hincrby", []string{"HINCRBY h n 5 -> 5", "HINCRBY h n -2 -> 3", "HSET h s 10", "HINCRBY h s 1 -> 11", "HGET h s -> 11", "HSET h x abc", "HINCRBY h x 1 -> ERR not integer", "HLEN h -> 3"}},
		{"hincrby overflow", []string{"HSET h f 9223372036854775807", "HINCRBY h f 1 -> ERR overflow", "HGET h f -> 9223372036854775807"}},
		{"hdel", []string{"HSET h f v", "HSET h g v", "HINCRBY h n 1", "HDEL h f x -> 1", "HDEL h f -> 0", "HDEL h n g -> 2", "HLEN h -> 0", "TYPE h -> none", "HSET h f again -> 1"}},
		{"hset over counter field", []string{"HINCRBY h f 3", "HSET h f v -> 0", "HGET h f -> v", "HDEL h f -> 1", "HINCRBY h f 1 -> 1"}},
		{"multi sequential", []string{"MULTI", "SADD s a -> 1", "SREM s a -> 1", "SADD s b -> 1", "EXEC", "SMEMBERS s -> [b]"}},
		{"multi incr twice", []string{"MULTI", "INCR k -> 1", "INCR k -> 2", "GET k -> 2", "EXEC", "GET k -> 2"}},
		{"multi set del", []string{"SET k old", "MULTI", "SET k v -> OK", "DEL k -> 1", "GET k -> (nil)", "EXEC", "GET k -> (nil)"}},
		{"multi del set", []string{"SET k old", "MULTI", "DEL k -> 1", "SET k v", "GET k -> v", "EXEC", "GET k -> v"}},
		{"multi incr del incr", []string{"INCRBY k 10", "MULTI", "INCR k -> 11", "DEL k -> 1", "INCR k -> 1", "EXEC", "GET k -> 1"}},
		{"multi set incr", []string{"MULTI", "SET k 5", "INCR k -> 6", "EXEC", "GET k -> 6", "TYPE k -> counter"}},
		{"multi hset hdel", []string{"HSET h f v", "MULTI", "HDEL h f -> 1", "HSET h f w -> 1", "HGET h f -> w", "DEL h -> 1", "HSET h g x -> 1", "HLEN h -> 1", "EXEC", "HGETALL h -> [g=x]"}},
		{"multi many keys", []string{"MULTI", "SET a 1", "SET b 2", "SET c 3", "SET d 4", "SET e 5", "SET f 6", "SET g 7", "SET h 8", "SET i 9", "SET j 10", "INCR a -> 2", "GET j -> 10", "EXEC", "GET a -> 2", "GET i -> 9"}},
		{"multi many members", []string{"MULTI", "SADD s a b c d e f g h i j k -> 11", "SREM s e f -> 2", "SCARD s -> 9", "EXEC", "SCARD s -> 9", "SMEMBERS s -> [a b c d g h i j k]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReplicas(1)[0]
			txns := script(t, r, c.lines...)
			// A second replica that receives the same transactions agrees.
			other := newReplicas(2)[1]
			for _, txn := range txns {
				other.deliver(t, txn)
			}
			sameState(t, "replay", r.ks, other.ks)
		})
	}
}

// TestFailedOpLeavesBuilder checks that an operation that fails changes
// nothing in the builder.
func TestFailedOpLeavesBuilder(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET str abc", "SADD set a", "INCRBY big 9223372036854775807")
	b := r.begin()
	if _, err := b.Increment([]byte("str"), 1); err != ErrNotInteger {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.Increment([]byte("big"), 1); err != ErrOverflow {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.MapSet([]byte("set"), []byte("f"), []byte("v")); err != ErrWrongType {
		t.Fatalf("err = %v", err)
	}
	if err := b.Set(make([]byte, MaxKeyBytes+1), nil); err != ErrKeyTooLong {
		t.Fatalf("err = %v", err)
	}
	if !b.Empty() || len(b.keys) != 0 {
		t.Fatalf("failed operations left %d pending keys", len(b.keys))
	}
	if txn := b.Finish(); txn.Len() != 0 {
		t.Fatalf("finished txn has %d keys", txn.Len())
	}
}
