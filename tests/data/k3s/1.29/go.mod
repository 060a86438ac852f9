module github.com/k3s-io/k3s

go 1.23.6

replace (
	github.com/containerd/containerd => github.com/k3s-io/containerd v1.7.26-k3s1
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.2.5
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.29.15-k3s1
)

require (
	github.com/containerd/containerd v1.7.26
	github.com/flannel-io/flannel v0.26.4
	github.com/opencontainers/runc v1.2.5
	k8s.io/kubernetes v1.29.15
)
