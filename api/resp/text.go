package resp

import (
	"unicode/utf8"

	"github.com/tidwall/redcon"

	"github.com/spooksystems/spook/crdt"
)

// The text commands: a key holding a collaborative text (crdt.TypeText),
// addressed in Unicode code points. Concurrent inserts at one place keep
// each writer's run together; see docs/api.md.
//
//	TEXT.INSERT key pos str   → the text's new length; pos 0 … length
//	TEXT.DELETE key pos count → code points deleted (count clamped to the end)
//	TEXT.GET key              → the text, or nil
//	TEXT.LEN key              → its length (0 when absent)
//	TEXT.RANGE key start end  → code points start … end inclusive (negative
//	                            from the end, as GETRANGE)

// textCommands are registered in command.go's table.
var textCommands = []*command{
	{name: "text.insert", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeTextInsert},
	{name: "text.delete", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeTextDelete},
	{name: "text.get", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readTextGet},
	{name: "text.len", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readTextLen},
	{name: "text.range", arity: 4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readTextRange},
}

func writeTextInsert(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, str := args[1], args[3]
	pos, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkValue(str); err != nil {
		return out, err
	}
	if !utf8.Valid(str) {
		return out, respErr("ERR text must be valid UTF-8")
	}
	text, err := textOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if pos < 0 || pos > int64(len(text)) {
		return out, errIndexRange
	}
	if len(str) == 0 {
		return redcon.AppendInt(out, int64(len(text))), nil
	}
	if err := insertText(tx, key, int(pos), string(str)); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(len(text)+utf8.RuneCount(str))), nil
}

func writeTextDelete(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	pos, err1 := parseInt(args[2])
	count, err2 := parseInt(args[3])
	if err1 != nil || err2 != nil {
		return out, errNotInteger
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	text, err := textOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if pos < 0 || pos > int64(len(text)) || count < 0 {
		return out, errIndexRange
	}
	n := min(count, int64(len(text))-pos)
	if n == 0 {
		return redcon.AppendInt(out, 0), nil
	}
	if err := deleteText(tx, key, int(pos), int(n)); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, n), nil
}

func readTextGet(v view, args [][]byte, out []byte) []byte {
	if val := v.get(args[1]); val == nil {
		return redcon.AppendNull(out)
	}
	text, err := textOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendBulkString(out, string(text))
}

func readTextLen(v view, args [][]byte, out []byte) []byte {
	text, err := textOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, int64(len(text)))
}

func readTextRange(v view, args [][]byte, out []byte) []byte {
	start, err1 := parseInt(args[2])
	end, err2 := parseInt(args[3])
	if err1 != nil || err2 != nil {
		return redcon.AppendError(out, string(errNotInteger))
	}
	text, err := textOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	from, to, ok := clampRange(start, end, int64(len(text)))
	if !ok {
		return redcon.AppendBulkString(out, "")
	}
	return redcon.AppendBulkString(out, string(text[from:to]))
}
