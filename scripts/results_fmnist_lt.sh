#!/usr/bin/env bash
# The classifier tables of docs/results.md: the long-tail table (configs/campaigns/
# classifier-fmnist-lt.txt) and category extrapolation (classifier-extrapolation.txt), run by
# scripts/campaign.sh (finished runs skipped, unfinished ones resumed); then
# scripts/results_table.py OUT prints the tables.
#   usage: scripts/results_fmnist_lt.sh [OUT] [main|extrapolation|all]
# TAILGRAD=path/to/binary uses that build instead of building target/release/tailgrad.
set -euo pipefail
OUT=${1:-runs/results}
WHAT=${2:-all}
HERE=$(dirname "$0")
if [ "$WHAT" != extrapolation ]; then
    "$HERE"/campaign.sh configs/campaigns/classifier-fmnist-lt.txt "$OUT"
fi
if [ "$WHAT" != main ]; then
    "$HERE"/campaign.sh configs/campaigns/classifier-extrapolation.txt "$OUT"
fi
