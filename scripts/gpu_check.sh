#!/bin/bash
# The course on a GPU, in one run (docs/testing.md, "On a GPU"): every notebook under nbval with
# COURSE_DEVICE=cuda, tests/test_device.py, and every assignment graded on CUDA in the warm
# sandbox (one in the cold one) by scripts/gpu_check.py. Figures and logs go to $OUT.
# On a machine without the course's packages, scripts/gpu_wheels.sh first puts their wheels in .whl/
# and bubblewrap's .deb in .device/ (carry both); both are installed here when present.
# Every notebook and every assignment take longer than one 600 s call: split them (below).
#   NOTEBOOKS="chapters/03-autograd.ipynb" ASSIGNMENTS="03-autograd" COLD=02-linear-regression scripts/gpu_check.sh
# runs less (defaults: every notebook, every assignment, 05 cold).
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD COURSE_DEVICE=cuda
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
step() { echo; echo "== $* ($(date +%T))"; }

step install
if ls .whl/*.whl >/dev/null 2>&1; then  # into the interpreter's own prefix: the sandbox binds it, not PYTHONPATH
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl 2>&1 | grep -v WARNING | tail -3
fi
if ! command -v bwrap >/dev/null && ls .device/bubblewrap_*.deb >/dev/null 2>&1; then
  dpkg -x .device/bubblewrap_*.deb /tmp/bubblewrap && cp /tmp/bubblewrap/usr/bin/bwrap /usr/local/bin/
fi
command -v bwrap setpriv prlimit
nvidia-smi | tee "$OUT/nvidia-smi.txt"
python3 -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name())"

step "CUDA under the sandbox's memory limits (4 GiB by default)"
probe='import resource, torch; torch.zeros(1, device="cuda"); print("ok, VmSize", [l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1], "kB")'
for limit in 4 16 64 256 1024 unlimited; do
  bytes=$([ $limit = unlimited ] && echo unlimited || echo $((limit * 2**30)))
  printf 'RLIMIT_AS %s GiB: ' $limit; prlimit --as=$bytes python3 -c "$probe" 2>&1 | tail -1
done | tee "$OUT/limits.txt"
printf 'RLIMIT_DATA 4 GiB: ' | tee -a "$OUT/limits.txt"; prlimit --data=$((4 * 2**30)) python3 -c "$probe" 2>&1 | tail -1 | tee -a "$OUT/limits.txt"

step "the notebooks under nbval, COURSE_DEVICE=cuda"
python3 -c "from course import ASSIGNMENTS, source_notebook; [source_notebook(a) for a in ASSIGNMENTS]"
(while sleep 2; do nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader; done) > "$OUT/gpu-use.csv" 2>&1 &
monitor=$!
start=$(date +%s)
timeout 200 python3 -m pytest -p no:cacheprovider -q -n 8 --dist loadfile ${NOTEBOOKS:-solutions chapters tests/test_device.py} \
  2>&1 | tee "$OUT/nbval.log" | tail -45
echo "nbval: $(( $(date +%s) - start )) s"

step "grading on CUDA: warm sandbox"
# About 40 s an assignment on an H200 with 8 workers (2026-12-04): 00 to 03 took 150 s.
assignments=${ASSIGNMENTS:-$(python3 -c "from course import ASSIGNMENTS; print(*ASSIGNMENTS)")}
timeout $(( 50 * $(wc -w <<< "$assignments") )) python3 scripts/gpu_check.py --workers 8 $assignments 2>&1 | tee "$OUT/grade-warm.log"
step "grading on CUDA: cold sandbox"
timeout 100 python3 scripts/gpu_check.py --workers 8 --sandbox cold ${COLD:-05-nn-module} 2>&1 | tee "$OUT/grade-cold.log"
kill $monitor
echo "GPU use (util %, memory): max $(sort -t, -k2 -n "$OUT/gpu-use.csv" | tail -1)"
