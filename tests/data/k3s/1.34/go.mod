module github.com/k3s-io/k3s

go 1.24.0

toolchain go1.24.6

replace (
	github.com/containerd/containerd/v2 => github.com/k3s-io/containerd/v2 v2.1.4-k3s2
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.3.1
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.34.1-k3s1
)

require (
	github.com/containerd/containerd/v2 v2.1.4
	github.com/flannel-io/flannel v0.27.3
	github.com/opencontainers/runc v1.3.1
	k8s.io/kubernetes v1.34.1
)
