module github.com/k3s-io/k3s

go 1.26.0

toolchain go1.26.2

// runc is named only in a replace (no require): version.sh's `go list -m` of it fails under -mod=vendor
replace (
	github.com/containerd/containerd/v2 => github.com/k3s-io/containerd/v2 v2.3.4-k3s1
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.4.2
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.37.0-k3s1
)

require (
	github.com/containerd/containerd/v2 v2.3.4
	github.com/flannel-io/flannel v0.28.1
	k8s.io/kubernetes v1.37.0
)
