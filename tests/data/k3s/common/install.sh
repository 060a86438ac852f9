#!/bin/sh
# fixture stand-in for k3s-io/k3s install.sh (our own text): prints what it was asked to do
echo "skip=$INSTALL_K3S_SKIP_DOWNLOAD bin=$INSTALL_K3S_BIN_DIR ro=$INSTALL_K3S_BIN_DIR_READ_ONLY"
