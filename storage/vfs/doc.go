// Package vfs is the filesystem seam under Spook's storage: a small FS
// interface and three implementations.
//
//   - OS is the real filesystem, the only storage code that touches
//     package os.
//   - MemFS is an in-memory filesystem that tracks, per file, the synced
//     contents apart from what was written since, and per directory the
//     synced entries apart from creates, renames and removes made since.
//     MemFS.Crash(seed) returns what a power loss would leave: unsynced
//     directory operations are lost and each file keeps its synced bytes
//     plus a random, possibly torn and garbled, prefix of the rest.
//   - ErrorFS wraps an FS and fails the n-th call of a chosen set of kinds
//     with ErrInjected, counting calls so a test can sweep n over every
//     call a workload makes; with Sticky it fails every later call too,
//     which is how a crash-point sweep stops the world after call k.
//
// A crash test therefore reads:
//
//	mem := vfs.NewMemFS()
//	efs := vfs.NewErrorFS(mem, vfs.Injection{Ops: vfs.OpMutating, At: k + 1, Sticky: true})
//	runWorkload(efs)          // sees errors from call k+1 on
//	after := mem.Crash(seed)  // the disk after a power loss at that point
//	recoverAndCheck(after)
//
// The durability rules every caller must follow (and that MemFS
// enforces) are on FS: file data is durable only after File.Sync, a name
// only after SyncDir on its directory.
package vfs
