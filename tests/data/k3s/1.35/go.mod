module github.com/k3s-io/k3s

go 1.25.0

toolchain go1.25.5

// runc is named only in a replace (no require): version.sh's `go list -m` of it fails under -mod=vendor
replace (
	github.com/containerd/containerd/v2 => github.com/k3s-io/containerd/v2 v2.1.5-k3s1
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.4.0
	k8s.io/kubernetes => github.com/k3s-io/kubernetes v1.35.0-k3s1
)

require (
	github.com/containerd/containerd/v2 v2.1.5
	github.com/flannel-io/flannel v0.27.4
	k8s.io/kubernetes v1.35.0
)
