package storage

// Flush writes buffered records to the operating system without an fsync:
// they then survive a crash of this process but not a power loss or an OS
// crash. It is what the `none` fsync policy does before a node lets
// messages that claim the records leave. Like Sync, a failure is sticky.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	return l.flush()
}
