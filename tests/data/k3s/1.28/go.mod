module github.com/k3s-io/k3s

go 1.21

replace (
	github.com/containerd/containerd => github.com/k3s-io/containerd v1.7.11-k3s2
	github.com/kubernetes-sigs/cri-tools => github.com/k3s-io/cri-tools v1.28.0-k3s1
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.1.12
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.28.8-k3s1
)

require (
	github.com/containerd/containerd v1.7.11
	github.com/flannel-io/flannel v0.24.2
	github.com/kubernetes-sigs/cri-tools v0.0.0-00010101000000-000000000000
	github.com/opencontainers/runc v1.1.12
	k8s.io/kubernetes v1.28.8
)
