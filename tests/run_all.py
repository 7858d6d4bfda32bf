"""Run notebooks as JupyterLab's Run All does, several in one kernel.

Run All sends every cell with stop_on_error; the kernel drops the queue at the first error
reply. nbclient with allow_errors=False stops at the same cell (a cell tagged
raises-exception excepted), so that is how these run. Between notebooks the namespace is
reset (%reset -f) and figures closed: the imported modules stay, which is what a fresh kernel
per notebook would spend its time on."""
import contextlib
import os
import subprocess
import tempfile

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

RESET = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')"


@contextlib.contextmanager
def kernel(kernels_dir=None):
    """A started kernel manager (the kernelspec `python3`, from kernels_dir when given)."""
    spec = {"kernel_spec_manager": KernelSpecManager(kernel_dirs=[str(kernels_dir)])} if kernels_dir else {}
    km = KernelManager(kernel_name="python3", **spec)
    env = dict(os.environ, MPLBACKEND="Agg", COURSE_DEVICE="cpu", PYTHONWARNINGS="ignore")
    km.start_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


def run_all(nb, km, timeout=300):
    """(where Run All stopped, or None when it ran to the end; the executed notebook)."""
    nb.cells.insert(0, nbformat.v4.new_code_cell(RESET))
    with tempfile.TemporaryDirectory(prefix="run-all-") as folder:
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False, resources={"metadata": {"path": folder}})
        try:
            client.execute(cleanup_kc=False)  # the kernel runs on: the next notebook uses it
            return None, nb
        except CellExecutionError as error:
            return str(error)[-1500:], nb
        except DeadKernelError as error:  # reported; the next notebook gets a new kernel
            km.restart_kernel(now=True)
            return f"the kernel died: {error}", nb
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
