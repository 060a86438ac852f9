module github.com/k3s-io/k3s

go 1.19

replace (
	github.com/containerd/containerd/v2 => github.com/k3s-io/containerd/v2 v2.0.4-k3s2
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.32.4-k3s1
)

require (
	github.com/containerd/containerd/v2 v2.0.0
	github.com/flannel-io/flannel v0.26.4
	github.com/opencontainers/runc v1.2.5 // indirect
	k8s.io/kubernetes v1.32.4
)
