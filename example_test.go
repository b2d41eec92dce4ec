package spook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spooksystems/spook"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A single embedded node: an atomic transaction, then a read.
func Example() {
	db, err := spook.Open(spook.Config{Name: "solo", Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	_, err = db.Update(ctx, func(tx *spook.Tx) error {
		if err := tx.Set([]byte("order/42"), []byte("paid")); err != nil {
			return err
		}
		_, err := tx.Increment([]byte("orders/paid"), 1)
		return err
	})
	if err != nil {
		panic(err)
	}
	status, _ := db.Get([]byte("order/42"))
	paid, _ := db.Get([]byte("orders/paid"))
	fmt.Printf("order/42=%s orders/paid=%s\n", status, paid)
	// Output: order/42=paid orders/paid=1
}

// A collaborative text: inserts and deletes by code point position, each
// a transaction that replicates as a small delta. Text typed concurrently
// at one place on two nodes keeps each run whole.
func ExampleDB_Text() {
	db, err := spook.Open(spook.Config{Name: "solo", Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	key := []byte("notes")
	edit := func(fn func(tx *spook.Tx) error) {
		if _, err := db.Update(ctx, fn); err != nil {
			panic(err)
		}
	}
	edit(func(tx *spook.Tx) error { _, err := tx.TextInsert(key, 0, []byte("hello wörld")); return err })
	edit(func(tx *spook.Tx) error { _, err := tx.TextInsert(key, 5, []byte(",")); return err })
	edit(func(tx *spook.Tx) error { _, err := tx.TextDelete(key, 0, 1); return err })
	text, _ := db.Text(key)
	fmt.Println(text)
	// Output: ello, wörld
}

// A bounded counter: stock that never goes below zero on any node. A
// decrement takes this node's rights; one it lacks the rights for fails
// with spook.ErrInsufficient after MaxBCounterWait (one node here: nobody
// else holds rights to give).
func ExampleDB_BCounterDecrement() {
	db, err := spook.Open(spook.Config{Name: "solo", Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	key := []byte("stock/sku-1")
	if _, err := db.Update(ctx, func(tx *spook.Tx) error { return tx.BCounterCreate(key, 0, 5) }); err != nil {
		panic(err)
	}
	left, err := db.BCounterDecrement(ctx, key, 3)
	fmt.Println(left, err, db.BCounterRights(key))
	_, err = db.BCounterDecrement(ctx, key, 3)
	c, _ := db.BCounter(key)
	fmt.Println(errors.Is(err, spook.ErrInsufficient), c.Value)
	// Output:
	// 2 <nil> 2
	// true 2
}

// Two embedded nodes in one cluster: a write on one, visible on the other,
// and a wait until every member has it (collapse).
func ExampleDB_WaitCollapsed() {
	members := []spook.Member{{Name: "a", Addr: "127.0.0.1:7191"}, {Name: "b", Addr: "127.0.0.1:7192"}}
	a, err := spook.Open(spook.Config{Name: "a", Listen: members[0].Addr, Members: members, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	b, err := spook.Open(spook.Config{Name: "b", Listen: members[1].Addr, Members: members, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := a.Update(ctx, func(tx *spook.Tx) error { return tx.Set([]byte("greeting"), []byte("hello")) })
	if err != nil {
		panic(err)
	}
	if err := a.WaitCollapsed(ctx, tok); err != nil {
		panic(err)
	}
	v, ok := b.Get([]byte("greeting"))
	fmt.Println(string(v), ok)
	// Output: hello true
}
