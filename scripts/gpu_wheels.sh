#!/bin/bash
# Wheels for scripts/gpu_check.sh on a GPU machine whose image has torch but not the course's
# grading packages (docs/testing.md, "On a GPU"): requirements.txt's pins less torch, the site's
# builder and theme, the browser tests' and JupyterLab's packages, the scientific stack a torch
# image carries (NumPy, SciPy, scikit-learn, Matplotlib and the like: 90 MB, past the 64 MB a run may take), for CPython 3.12 on x86-64,
# into .whl/; bubblewrap's .deb into .device/. Both folders are git-ignored (.git/info/exclude)
# and travel as the run's carry: [".whl", ".device"].
set -eu
cd "$(dirname "$0")/.."
skip='^(torch|jupyter-book|sphinx|myst|pydata|alabaster|docutils|snowballstemmer|imagesize|babel|pybtex|latexcodec|linkify|playwright|jupyterlab|notebook|jupyter-lsp|jupyter-builder|jupyter-cache|numpy|scipy|scikit-learn|matplotlib$|pillow|sympy|mpmath|fonttools|networkx|kiwisolver|contourpy|cycler|pyparsing)'
keep='^(jupyterlab-pygments|mdit-py-plugins)$'  # nbconvert and jupytext import these
pins=$(mktemp)
grep -v '^#' requirements.txt | while IFS='=' read -r name _ version; do
  norm=$(echo "$name" | tr 'A-Z_.' 'a-z--')
  if [[ $norm =~ $keep ]] || ! [[ $norm =~ $skip ]]; then echo "$name==$version"; fi
done > "$pins"
platforms=$(for n in 1 2014 _2_17 _2_24 _2_27 _2_28 _2_31 _2_34 _2_35; do printf -- '--platform manylinux%s_x86_64 ' $n; done)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  $platforms -d .whl -r "$pins" 2>&1 | grep -v 'is ignored' || true
rm -f "$pins"
mkdir -p .device && (cd .device && apt-get download bubblewrap 2>&1 | grep -v '^W:' || true)
mkdir -p .git/info && for d in /.whl/ /.device/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1); $(ls .device)"
