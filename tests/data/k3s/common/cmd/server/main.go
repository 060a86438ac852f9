package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/containerd/containerd/v2"
	"github.com/flannel-io/flannel"
	"github.com/opencontainers/runc"
	"k8s.io/kubernetes"
)

var (
	version        = "dev"
	commit         = ""
	upstreamGolang = ""
	k8sVersion     = ""
)

func tool(dir, name string, args ...string) string {
	out, err := exec.Command(filepath.Join(dir, name), args...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "level=fatal msg=\"bundled %s does not run: %v %s\"\n", name, err, out)
		os.Exit(1)
	}
	return strings.TrimSpace(string(out))
}

func main() {
	cmd := filepath.Base(os.Args[0])
	if cmd == "k3s" && len(os.Args) > 1 {
		cmd = "k3s-" + os.Args[1]
	}
	switch cmd {
	case "k3s-server", "k3s-agent":
		if upstreamGolang != runtime.Version() {
			fmt.Fprintf(os.Stderr, "level=fatal msg=\"Failed to validate golang version: incorrect golang build version - kubernetes %s should be built with %s, runtime version is %s\"\n", k8sVersion, upstreamGolang, runtime.Version())
			os.Exit(1)
		}
		self, _ := os.Executable()
		dir := filepath.Dir(self)
		fmt.Println("cni:", tool(dir, "flannel"))
		fmt.Println("shim:", tool(dir, "containerd-shim-runc-v2", "-v"))
		fmt.Println("runc:", tool(dir, "runc", "--version"))
		fmt.Println("selinux:", selinux)
		fmt.Printf("%s %s started (%s)\n", cmd, version, runtime.Version())
	default:
		fmt.Println("k3s", version, containerd.Name, runc.Name, flannel.Name, kubernetes.Name)
	}
}
