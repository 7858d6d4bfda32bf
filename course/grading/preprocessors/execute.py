"""nbgrader's execute step with every kernel in the sandbox, a per-cell and a per-notebook timeout
and an output budget."""
import shutil
import threading

from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from course.grading.sandbox.base import check_available
from course.grading.sandbox.kernel import SandboxKernelManager


class NotebookTimeoutError(RuntimeError):
    """The notebook's time limit passed: the grader ended its kernel (course/grading/batch.py reports it)."""


class SandboxedExecute(Execute):
    """nbgrader's Execute with every kernel sandboxed, per-cell timeouts and an output budget."""

    sandbox = Bool(True, config=True, help="Run kernels in the sandbox. Turn off only for trusted notebooks.")
    max_cell_timeout = Integer(600, config=True, help="Upper bound of a cell's metadata.course.timeout, seconds")
    max_output_bytes = Integer(1_000_000, config=True, help="Output kept per cell; the rest is dropped")
    notebook_timeout = Integer(900, config=True, help="Wall-clock seconds for the whole notebook (0: no limit), as "
                                                      "long as its kernel's CPU seconds: past it the grader ends "
                                                      "the kernel and the notebook is not graded")

    def __init__(self, *args, **kwargs):
        # Every process of the kernel's uid is killed afterwards anyway: no polite shutdown to wait for.
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)
        if self.sandbox:
            check_available()  # refuse loudly rather than run strangers' code unconfined
            self.kernel_manager_class = SandboxKernelManager
        self.timeout_func = self.cell_timeout
        self._output_bytes = {}

    def preprocess(self, nb, resources=None, km=None):
        before = set(SandboxKernelManager.live)
        expired = threading.Event()
        timer = threading.Timer(self.notebook_timeout, self._end_kernel, (expired,))
        timer.daemon = True
        if self.notebook_timeout > 0:
            timer.start()
        try:
            return super().preprocess(nb, resources, km)
        except Exception as error:
            if expired.is_set():
                raise NotebookTimeoutError(f"the notebook ran longer than its time limit of {self.notebook_timeout} s "
                                           "(SandboxedExecute.notebook_timeout)") from error
            raise
        finally:  # a kernel that died mid-cell may skip the manager's own cleanup
            timer.cancel()
            for scratch in set(SandboxKernelManager.live) - before:
                SandboxKernelManager.live.pop(scratch).end_processes()
                shutil.rmtree(scratch, ignore_errors=True)

    def _end_kernel(self, expired):
        """From outside the kernel: end it and all it started; nbclient then finds it dead (within a second)."""
        expired.set()
        km = self.km
        if km is None:
            return
        if isinstance(km, SandboxKernelManager):
            km.end_processes()
        elif km.provisioner is not None and km.provisioner.process is not None:
            km.provisioner.process.kill()

    def cell_timeout(self, cell):
        override = cell.metadata.get("course", {}).get("timeout")
        if isinstance(override, (int, float)) and not isinstance(override, bool) and override > 0:
            return min(int(override), self.max_cell_timeout)
        return self.timeout

    def output(self, outs, msg, display_id, cell_index):
        used = self._output_bytes.get(cell_index, 0)
        if used > self.max_output_bytes:
            return None
        size = len(str(msg.get("content", "")))
        self._output_bytes[cell_index] = used + size
        if used + size > self.max_output_bytes:
            note = new_output("stream", name="stdout",
                              text=f"\n[output cut: the cell printed more than {self.max_output_bytes} bytes]\n")
            outs.append(note)
            return note
        return super().output(outs, msg, display_id, cell_index)
