"""The grading sandbox: bubblewrap around every kernel (kernel.py), forked from a warm sandbox (warm.py, zygote.py)."""
