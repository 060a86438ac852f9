//go:build static_build

package main

// #cgo LDFLAGS: -lseccomp
import "C"
