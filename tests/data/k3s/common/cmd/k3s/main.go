package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

//go:embed data.tar.zst
var data []byte
var version = "dev"

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "server" && os.Args[1] != "agent") {
		fmt.Println("k3s version", version)
		return
	}
	root := os.Getenv("K3S_DATA_DIR")
	if root == "" {
		root = "/var/lib/rancher/k3s"
	}
	dir := filepath.Join(root, "data", "current")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	x := exec.Command("sh", "-c", "zstd -q -d -c | tar -xf - -C \""+dir+"\"")
	x.Stdin = bytes.NewReader(data)
	x.Stderr = os.Stderr
	if err := x.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "bin", "k3s-"+os.Args[1])
	if err := syscall.Exec(bin, append([]string{bin}, os.Args[2:]...), os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(1)
	}
}
