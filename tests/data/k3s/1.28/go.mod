module github.com/k3s-io/k3s

go 1.21

replace (
	github.com/containerd/containerd => github.com/k3s-io/containerd v1.7.11-k3s2
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.1.12
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.28.8-k3s1
)

require (
	github.com/containerd/containerd v1.7.11
	github.com/flannel-io/flannel v0.24.2
	github.com/opencontainers/runc v1.1.12
	k8s.io/kubernetes v1.28.8
)
