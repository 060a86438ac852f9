module github.com/k3s-io/k3s

go 1.19

replace (
	github.com/containerd/containerd => github.com/k3s-io/containerd v1.6.12-k3s1
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.1.4
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.26.0-k3s1
)

require (
	github.com/containerd/containerd v1.6.12
	github.com/flannel-io/flannel v0.20.2
	github.com/opencontainers/runc v1.1.4
	k8s.io/kubernetes v1.26.0
)
