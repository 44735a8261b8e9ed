#!/usr/bin/env bash
# The kit on a CUDA GPU: the solutions (expect full marks), the stubs (expect 0) and the CUDA-only
# checks, under the tiers the machine allows (and the portable tier, forced). Run from the kit's root on a machine with an NVIDIA GPU
# and torch installed; the kit itself need not be pip-installed (PYTHONPATH is set here).
# Writes its logs and JSON reports to ${OUT:-/tmp/cuda_run}.
set -u
out="${OUT:-/tmp/cuda_run}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 GRADE_CACHE_DIR=off
python=${PYTHON:-python3}
grade() { "$python" -c 'import sys; from grader.cli import main; sys.argv[0] = "grade"; main()' "$@"; }
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$python" -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
  nproc; command -v bwrap || echo "no bwrap"
} 2>&1 | tee "$out/machine.txt"
run() {  # run NAME COMMAND...: time a command, keep its output
  local name=$1; shift
  local start=$(date +%s%N)
  "$@" >"$out/$name.out" 2>&1; local rc=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%-28s rc=%s %d.%03d s\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000)) | tee -a "$out/summary.txt"
  tail -n 25 "$out/$name.out"
}
run solutions_cuda      grade check --submission solutions --device cuda --json
cp "$out/solutions_cuda.out" "$out/solutions_cuda.json"
run solutions_cuda_table grade check --submission solutions --device cuda
run stubs_cuda          grade check --device cuda
# composite items alone: their pieces are not graded, so every call goes to the kit's versions over the socket
run kit_items_cuda      grade check ex02.grad_fn ex02.training_loop ex05.fit_curve ex06.train_linreg ex08.train_epoch --submission solutions --device cuda
run solutions_cpu       grade check --submission solutions --device cpu
GRADER_ISOLATION=reduced run solutions_cuda_reduced grade check --submission solutions --device cuda
GRADER_ISOLATION=portable run solutions_cuda_portable grade check --submission solutions --device cuda
run pytest_cuda_checks  "$python" -m pytest -p grader.pytest_plugin tests/hidden --submission solutions --device cuda -q -k "cuda or gpu or device" -p no:cacheprovider
run kit_gpu_tests       "$python" -m pytest -q -p no:cacheprovider tests/test_kit_versions.py -k "gpu or device"
cat "$out/summary.txt"
