// Package berthtest holds test-only helpers shared by berth's packages. It
// is imported only by _test.go files.
package berthtest
