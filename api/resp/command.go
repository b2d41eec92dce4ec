package resp

import (
	"strings"

	"github.com/spooksystems/spook/crdt"
)

// flags of a command.
const (
	flagWrite      = 1 << iota // changes the keyspace
	flagReadOnly               // reads the keyspace
	flagNoAuth                 // allowed before AUTH
	flagPubSub                 // allowed in subscribed mode
	flagTxnControl             // runs at once even inside MULTI
	flagAdmin                  // connection or server command
)

// command is one entry of the command table. Exactly one of conn, read
// and write is the way it runs outside MULTI; inside MULTI only commands
// with read or write can be queued (conn takes precedence outside MULTI,
// so PING has both).
//
// The args a command function gets alias the connection's read buffer:
// they are valid until the function returns (a queued MULTI command gets
// its own copy). A function that keeps an argument beyond its return (in
// the client's state, or for another goroutine) must copy it. Appending
// to an argument is safe: each is capped at its length.
type command struct {
	name  string // lower case, as in Redis's error texts
	arity int    // Redis convention: n exact, -n at least n (name included)
	flags int
	// first, last and step locate the keys, for COMMAND (Redis's
	// convention; last -1 means the last argument).
	first, last, step int

	// conn runs a connection or server command; it writes its own reply.
	conn func(s *Server, c *client, args [][]byte)
	// read appends the reply of a read-only command. It runs inside
	// Backend.View, or inside Backend.Update for EXEC (seeing the
	// transaction's earlier writes).
	read func(v view, args [][]byte, out []byte) []byte
	// write appends the reply of a writing command, run inside
	// Backend.Update. It returns out unchanged and a respErr if it
	// refused before touching tx; any other error aborts the transaction.
	write func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error)
}

func (c *command) arityOK(n int) bool {
	if c.arity >= 0 {
		return n == c.arity
	}
	return n >= -c.arity
}

// commands maps lower-case names to commands; filled by init so that
// command functions may refer to the table (COMMAND does).
var commands map[string]*command

func init() {
	list := []*command{
		// Connection and server.
		{name: "ping", arity: -1, flags: flagPubSub | flagAdmin, conn: cmdPing, read: readPing},
		{name: "echo", arity: 2, flags: flagAdmin, read: readEcho},
		{name: "hello", arity: -1, flags: flagNoAuth | flagAdmin | flagTxnControl, conn: cmdHello},
		{name: "auth", arity: -2, flags: flagNoAuth | flagAdmin | flagTxnControl, conn: cmdAuth},
		{name: "select", arity: 2, flags: flagAdmin, conn: cmdSelect},
		{name: "quit", arity: -1, flags: flagNoAuth | flagPubSub | flagAdmin | flagTxnControl, conn: cmdQuit},
		{name: "reset", arity: 1, flags: flagNoAuth | flagPubSub | flagAdmin | flagTxnControl, conn: cmdReset},
		{name: "client", arity: -2, flags: flagAdmin, conn: cmdClient},
		{name: "acl", arity: -2, flags: flagAdmin, conn: cmdACL},
		{name: "command", arity: -1, flags: flagAdmin, conn: cmdCommand},
		{name: "info", arity: -1, flags: flagAdmin, conn: cmdInfo},
		{name: "wait", arity: 3, flags: flagAdmin, conn: cmdWait},
		{name: "multi", arity: 1, flags: flagAdmin | flagTxnControl, conn: cmdMulti},
		{name: "exec", arity: 1, flags: flagAdmin | flagTxnControl, conn: cmdExec},
		{name: "discard", arity: 1, flags: flagAdmin | flagTxnControl, conn: cmdDiscard},
		{name: "watch", arity: -2, flags: flagAdmin | flagTxnControl, conn: cmdWatch},
		{name: "unwatch", arity: 1, flags: flagAdmin, read: readOK},
		{name: "subscribe", arity: -2, flags: flagPubSub | flagAdmin, conn: cmdSubscribe},
		{name: "psubscribe", arity: -2, flags: flagPubSub | flagAdmin, conn: cmdPSubscribe},
		{name: "unsubscribe", arity: -1, flags: flagPubSub | flagAdmin, conn: cmdUnsubscribe},
		{name: "punsubscribe", arity: -1, flags: flagPubSub | flagAdmin, conn: cmdPUnsubscribe},
		{name: "publish", arity: 3, flags: flagAdmin, conn: cmdPublish},
		{name: "pubsub", arity: -2, flags: flagAdmin, conn: cmdPubSub},
		{name: "config", arity: -2, flags: flagAdmin, conn: cmdConfig},
		{name: "spook.status", arity: 1, flags: flagAdmin, conn: cmdSpookStatus},
		{name: "spook.removemember", arity: 2, flags: flagAdmin, conn: cmdSpookRemoveMember},
		{name: "spook.waitregion", arity: 3, flags: flagAdmin, conn: cmdSpookWaitRegion},
		{name: "spook.siblings", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSiblings},
		{name: "spook.getat", arity: 3, flags: flagAdmin, conn: cmdSpookGetAt},

		// Strings and counters.
		{name: "get", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readGet},
		{name: "mget", arity: -2, flags: flagReadOnly, first: 1, last: -1, step: 1, read: readMGet},
		{name: "strlen", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readStrlen},
		{name: "set", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSet},
		{name: "setnx", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSetNX},
		{name: "getset", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeGetSet},
		{name: "mset", arity: -3, flags: flagWrite, first: 1, last: -1, step: 2, write: writeMSet},
		{name: "msetnx", arity: -3, flags: flagWrite, first: 1, last: -1, step: 2, write: writeMSetNX},
		{name: "append", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeAppend},
		{name: "incr", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeIncr},
		{name: "decr", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeDecr},
		{name: "incrby", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeIncrBy},
		{name: "decrby", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeDecrBy},
		{name: "incrbyfloat", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeIncrByFloat},
		{name: "getdel", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeGetDel},
		{name: "getrange", arity: 4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readGetRange},
		{name: "substr", arity: 4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readGetRange},
		{name: "setrange", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSetRange},
		{name: "getbit", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readGetBit},
		{name: "setbit", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSetBit},
		{name: "bitcount", arity: -2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readBitCount},
		{name: "lcs", arity: -3, flags: flagReadOnly, first: 1, last: 2, step: 1, read: readLCS},

		// Keys.
		{name: "del", arity: -2, flags: flagWrite, first: 1, last: -1, step: 1, write: writeDel},
		{name: "unlink", arity: -2, flags: flagWrite, first: 1, last: -1, step: 1, write: writeDel},
		{name: "exists", arity: -2, flags: flagReadOnly, first: 1, last: -1, step: 1, read: readExists},
		{name: "type", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readType},
		{name: "keys", arity: 2, flags: flagReadOnly | flagAdmin, conn: cmdKeys},
		{name: "scan", arity: -2, flags: flagReadOnly | flagAdmin, conn: cmdScan},
		{name: "dbsize", arity: 1, flags: flagReadOnly | flagAdmin, conn: cmdDBSize},
		{name: "flushall", arity: -1, flags: flagWrite | flagAdmin, conn: cmdFlushAll},
		{name: "flushdb", arity: -1, flags: flagWrite | flagAdmin, conn: cmdFlushAll},
		{name: "rename", arity: 3, flags: flagWrite, first: 1, last: 2, step: 1, write: writeRename},
		{name: "renamenx", arity: 3, flags: flagWrite, first: 1, last: 2, step: 1, write: writeRenameNX},
		{name: "copy", arity: -3, flags: flagWrite, first: 1, last: 2, step: 1, write: writeCopy},
		{name: "randomkey", arity: 1, flags: flagReadOnly | flagAdmin, conn: cmdRandomKey},
		{name: "time", arity: 1, flags: flagAdmin, read: readTime},
		{name: "object", arity: -2, flags: flagReadOnly, first: 2, last: 2, step: 1, read: readObject},

		// Expiry: no key ever has a TTL (yet).
		{name: "ttl", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readTTL},
		{name: "pttl", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readPTTL},
		{name: "expiretime", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readExpireTime},
		{name: "pexpiretime", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readPExpireTime},
		{name: "persist", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, write: writePersist},
		{name: "expire", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeExpire},
		{name: "pexpire", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writePExpire},
		{name: "expireat", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeExpireAt},
		{name: "pexpireat", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writePExpireAt},
		{name: "setex", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSetEX},
		{name: "psetex", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writePSetEX},
		{name: "getex", arity: -2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeGetEx},

		// Sets.
		{name: "sadd", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSAdd},
		{name: "srem", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSRem},
		{name: "smembers", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSMembers},
		{name: "sismember", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSIsMember},
		{name: "smismember", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSMIsMember},
		{name: "scard", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSCard},
		{name: "sinter", arity: -2, flags: flagReadOnly, first: 1, last: -1, step: 1, read: readSetAlgebra(opInter)},
		{name: "sunion", arity: -2, flags: flagReadOnly, first: 1, last: -1, step: 1, read: readSetAlgebra(opUnion)},
		{name: "sdiff", arity: -2, flags: flagReadOnly, first: 1, last: -1, step: 1, read: readSetAlgebra(opDiff)},
		{name: "sinterstore", arity: -3, flags: flagWrite, first: 1, last: -1, step: 1, write: writeSetAlgebraStore(opInter)},
		{name: "sunionstore", arity: -3, flags: flagWrite, first: 1, last: -1, step: 1, write: writeSetAlgebraStore(opUnion)},
		{name: "sdiffstore", arity: -3, flags: flagWrite, first: 1, last: -1, step: 1, write: writeSetAlgebraStore(opDiff)},
		{name: "sintercard", arity: -3, flags: flagReadOnly, read: readSInterCard},
		{name: "smove", arity: 4, flags: flagWrite, first: 1, last: 2, step: 1, write: writeSMove},
		{name: "srandmember", arity: -2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSRandMember},
		{name: "spop", arity: -2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeSPop},
		{name: "sscan", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readSScan},

		// Hashes.
		{name: "hset", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeHSet},
		{name: "hmset", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeHMSet},
		{name: "hsetnx", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeHSetNX},
		{name: "hget", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHGet},
		{name: "hmget", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHMGet},
		{name: "hdel", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeHDel},
		{name: "hgetall", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHGetAll},
		{name: "hkeys", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHKeys},
		{name: "hvals", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHVals},
		{name: "hlen", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHLen},
		{name: "hexists", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHExists},
		{name: "hincrby", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeHIncrBy},
		{name: "hincrbyfloat", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeHIncrByFloat},
		{name: "hstrlen", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHStrlen},
		{name: "hrandfield", arity: -2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHRandField},
		{name: "hscan", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readHScan},

		// Sorted sets.
		{name: "zadd", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZAdd},
		{name: "zincrby", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZIncrBy},
		{name: "zrem", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZRem},
		{name: "zscore", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZScore},
		{name: "zmscore", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZMScore},
		{name: "zcard", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZCard},
		{name: "zcount", arity: 4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZCount},
		{name: "zlexcount", arity: 4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZLexCount},
		{name: "zrange", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRange(byRank, false, true)},
		{name: "zrangebyscore", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRange(byScore, false, false)},
		{name: "zrevrangebyscore", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRange(byScore, true, false)},
		{name: "zrevrange", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRange(byRank, true, false)},
		{name: "zrangebylex", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRange(byLex, false, false)},
		{name: "zrevrangebylex", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRange(byLex, true, false)},
		{name: "zrangestore", arity: -5, flags: flagWrite, first: 1, last: 2, step: 1, write: writeZRangeStore},
		{name: "zrank", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRank(false)},
		{name: "zrevrank", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRank(true)},
		{name: "zpopmin", arity: -2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZPop(false)},
		{name: "zpopmax", arity: -2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZPop(true)},
		{name: "zunionstore", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZAlgebraStore(zunion, "zunionstore")},
		{name: "zinterstore", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZAlgebraStore(zinter, "zinterstore")},
		{name: "zdiffstore", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeZAlgebraStore(zdiff, "zdiffstore")},
		{name: "zunion", arity: -3, flags: flagReadOnly, read: readZAlgebra(zunion, "zunion")},
		{name: "zinter", arity: -3, flags: flagReadOnly, read: readZAlgebra(zinter, "zinter")},
		{name: "zdiff", arity: -3, flags: flagReadOnly, read: readZAlgebra(zdiff, "zdiff")},
		{name: "zscan", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZScan},
	}
	list = append(list, textCommands...)     // text.go
	list = append(list, bcounterCommands...) // bcounter.go
	list = append(list, streamCommands...)
	list = append(list, listCommands...)
	list = append(list, mpopCommands...) // mpop.go
	list = append(list, claimCommands...)
	commands = make(map[string]*command, len(list))
	for _, c := range list {
		if commands[c.name] != nil {
			panic("resp: command listed twice: " + c.name)
		}
		commands[c.name] = c
	}
}

// lookup finds a command by name, case-insensitively.
func lookup(name []byte) *command {
	if c := commands[string(name)]; c != nil { // no allocation
		return c
	}
	if len(name) > 32 {
		return nil
	}
	return commands[strings.ToLower(string(name))]
}
