#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: a software Vulkan driver (lavapipe) so tailgrad
# runs without a GPU, the Fashion-MNIST package for the data tests, and a Rust toolchain if missing.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq mesa-vulkan-drivers dataset-fashion-mnist >/dev/null
fi
if ! command -v cargo >/dev/null; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
