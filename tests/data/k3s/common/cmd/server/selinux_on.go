//go:build selinux

package main

const selinux = true
