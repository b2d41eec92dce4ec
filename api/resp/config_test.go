package resp

import (
	"testing"
	"time"
)

func TestConfigSet(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	steps := []struct {
		want string
		args []string
	}{
		{`["notify-keyspace-events" "AKE"]`, []string{"CONFIG", "GET", "notify-keyspace-events"}},
		{`["maxmemory-policy" "noeviction" "notify-keyspace-events" "AKE"]`, []string{"CONFIG", "GET", "*"}},
		{"+OK", []string{"CONFIG", "SET", "notify-keyspace-events", "KA"}},
		{`["notify-keyspace-events" "AK"]`, []string{"CONFIG", "GET", "notify*"}},
		{"+OK", []string{"CONFIG", "SET", "NOTIFY-KEYSPACE-EVENTS", "Kgx$lshzetdmnE"}},
		{`["notify-keyspace-events" "AKEm"]`, []string{"CONFIG", "GET", "notify-keyspace-events"}},
		{"+OK", []string{"CONFIG", "SET", "notify-keyspace-events", "E$"}},
		{`["notify-keyspace-events" "$E"]`, []string{"CONFIG", "GET", "notify-keyspace-events"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.", []string{"CONFIG", "SET", "notify-keyspace-events", "Q"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - duplicate parameter", []string{"CONFIG", "SET", "notify-keyspace-events", "K", "notify-keyspace-events", "E"}},
		{"-ERR wrong number of arguments for 'config|set' command", []string{"CONFIG", "SET", "notify-keyspace-events"}},
		{"-ERR syntax error", []string{"CONFIG", "SET", "notify-keyspace-events", "K", "x"}},
		{"-ERR Unknown option or number of arguments for CONFIG SET - 'nope'", []string{"CONFIG", "SET", "nope", "1"}},
		{"+OK", []string{"CONFIG", "SET", "maxmemory-policy", "NoEviction"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - Spook never evicts keys: only noeviction is supported", []string{"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction", []string{"CONFIG", "SET", "maxmemory-policy", "bogus"}},
		// A refused pair applies nothing of the command.
		{"-ERR Unknown option or number of arguments for CONFIG SET - 'nope'", []string{"CONFIG", "SET", "notify-keyspace-events", "K", "nope", "1"}},
		{`["notify-keyspace-events" "$E"]`, []string{"CONFIG", "GET", "notify-keyspace-events"}},
	}
	for _, s := range steps {
		r.expect(s.want, s.args...)
	}
}

// TestConfigSetFiltersNotifications: notify-keyspace-events selects the
// channel kinds (K, E) and event classes the node publishes.
func TestConfigSetFiltersNotifications(t *testing.T) {
	f := start(t, Config{})
	r, w := f.raw(), f.raw()
	w.expect("+OK", "CONFIG", "SET", "notify-keyspace-events", "Eh")
	r.expect(`["psubscribe" "__key*" :1]`, "PSUBSCRIBE", "__key*")
	w.expect("+OK", "SET", "a", "1")      // class $: not selected
	w.expect(":1", "HSET", "h", "f", "v") // class h: keyevent only
	if got := r.read(); got != `["pmessage" "__key*" "__keyevent@0__:hset" "h"]` {
		t.Errorf("message: %s", got)
	}
	w.expect("+OK", "CONFIG", "SET", "notify-keyspace-events", "")
	w.expect(":1", "SADD", "s", "x")
	w.expect("+OK", "CONFIG", "SET", "notify-keyspace-events", "K$")
	w.expect("+OK", "SET", "b", "1")
	if got := r.read(); got != `["pmessage" "__key*" "__keyspace@0__:b" "set"]` {
		t.Errorf("message: %s", got)
	}
	_ = r.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := readReply(r.r); err == nil {
		t.Error("a message past the selected ones")
	}
}
