// Package project turns compose files into berth's own Project and Service
// specs. It is the only importer of compose-go: loading, interpolation, .env,
// env_file, extends, include, profiles and override files are compose-go's
// job; this package converts the result into what berth runs natively,
// validates it, and reports keys it cannot honour as Warnings with file:line.
// It imports no other internal package and starts no process.
package project
