// Package proptest holds what the property-test suites share: Main, a
// TestMain that raises pgregory.net/rapid's default number of cases, so
// every property runs 10,000 cases unless the command line says otherwise
// (-rapid.checks=N).
package proptest
