# @title Setup: run this cell first. It chooses the device, seeds every random generator and
# defines the checks. It is locked: the autograder runs the same cell.
import contextlib
import math
import os
import random

import matplotlib.pyplot as plt
import numpy as np
import torch

# The one place the device is chosen: set COURSE_DEVICE=cpu or COURSE_DEVICE=cuda
# in the environment, or leave it unset to use a GPU when there is one.
DEVICE = torch.device(os.environ.get("COURSE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))


def seed_everything(seed=2021):
    """Seed Python's, NumPy's and PyTorch's generators so every run is the same."""
    random.seed(seed)
    np.random.seed(seed)
    # What torch.manual_seed(seed) does for the devices in use; it would also queue a seed,
    # with a stack trace, for every accelerator the machine lacks (about 1 ms a call).
    torch.random.default_generator.manual_seed(seed)
    if DEVICE.type == "cuda":
        torch.cuda.manual_seed_all(seed)
    return seed


seed_everything()
plt.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 80})


@contextlib.contextmanager
def exercise_required(*names):
    """Run a demo that needs an exercise; say so instead of crashing if it is unfinished."""
    try:
        yield
    except NotImplementedError:
        print(f"This cell needs {', '.join(names)}: finish the exercise above, then run it again.")
