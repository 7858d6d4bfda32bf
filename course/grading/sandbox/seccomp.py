"""A seccomp filter that keeps root's kernels from creating user namespaces.

Root's kernels run as uids of the machine's own user namespace, where any uid may create a user
namespace, become root in it and mount a tmpfs there: memory outside the disk budget and the
address-space limit. An ordinary user's kernels are inside user namespaces of their own, which
forbid nested ones; root's get this filter instead (bwrap's `--seccomp` for a cold kernel, the
zygote's `install_filter` for a warm one):

- unshare() and clone() with CLONE_NEWUSER fail with EPERM;
- clone3() fails with ENOSYS: its flags are in memory, out of a filter's reach, and glibc falls
  back to clone() when clone3 is missing;
- a system call of another ABI than the interpreter's (i386's int 0x80 on x86_64) kills the
  process: its numbers are another table's. x32's calls (x86_64's ABI, numbers with bit 30 set)
  are the same calls and are judged as such.

setns() needs no filter: joining a namespace takes CAP_SYS_ADMIN over it, which a kernel never has.

A classic BPF program, packed by hand: no libseccomp needed.
"""
import functools
import os
import struct

CLONE_NEWUSER = 0x10000000
EPERM, ENOSYS = 1, 38
X32_SYSCALL_BIT = 0x40000000

# Linux's numbers: the audit arch of the calling convention, and its system calls.
ARCHES = {
    "x86_64": dict(audit=0xC000003E, unshare=272, clone=56, clone3=435, x32=True),
    "aarch64": dict(audit=0xC00000B7, unshare=97, clone=220, clone3=435, x32=False),
}

# struct seccomp_data: int nr, u32 arch, u64 instruction_pointer, u64 args[6]. Both arches are
# little-endian: the low 32 bits of args[0] (where CLONE_NEWUSER is) come first.
NR_AT, ARCH_AT, FLAGS_AT = 0, 4, 16

LD_W_ABS, ALU_AND_K, RET_K = 0x20, 0x54, 0x06
JEQ_K, JSET_K = 0x15, 0x45
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000


class UnknownArch(RuntimeError):
    pass


def _assemble(lines):
    """sock_filter structs (u16 code, u8 jt, u8 jf, u32 k) from (label, code, k, jt, jf) lines,
    the jumps given by label."""
    where = {line[0]: i for i, line in enumerate(lines) if line[0]}
    out = b""
    for i, (_, code, k, jt, jf) in enumerate(lines):
        offset = lambda label: 0 if label is None else where[label] - i - 1  # noqa: E731
        out += struct.pack("=HBBI", code, offset(jt), offset(jf), k)
    return out


@functools.cache  # built once per grader process, not at every kernel's start
def no_new_user_namespaces(machine=None):
    """The filter's bytes for this machine's arch (os.uname().machine unless `machine`)."""
    machine = machine or os.uname().machine
    if machine not in ARCHES or struct.calcsize("P") != 8:
        raise UnknownArch(f"no seccomp filter for {machine} with a {struct.calcsize('P') * 8}-bit Python: "
                                "root's kernels could create user namespaces (grade as an ordinary user instead)")
    arch = ARCHES[machine]
    return _assemble([
        (None, LD_W_ABS, ARCH_AT, None, None),
        (None, JEQ_K, arch["audit"], None, "kill"),
        (None, LD_W_ABS, NR_AT, None, None),
        *([(None, ALU_AND_K, ~X32_SYSCALL_BIT & 0xFFFFFFFF, None, None)] if arch["x32"] else []),
        (None, JEQ_K, arch["clone3"], "enosys", None),
        (None, JEQ_K, arch["unshare"], "flags", None),
        (None, JEQ_K, arch["clone"], "flags", "allow"),
        ("flags", LD_W_ABS, FLAGS_AT, None, None),
        (None, JSET_K, CLONE_NEWUSER, None, "allow"),
        (None, RET_K, RET_ERRNO | EPERM, None, None),
        ("allow", RET_K, RET_ALLOW, None, None),
        ("enosys", RET_K, RET_ERRNO | ENOSYS, None, None),
        ("kill", RET_K, RET_KILL_PROCESS, None, None),
    ])


def pipe_of(program):
    """A pipe's read end holding `program` then EOF, for bwrap's --seccomp FD: the caller passes
    it to bwrap (Popen's pass_fds) and closes its own copy."""
    read, write = os.pipe()
    os.write(write, program)  # about a hundred bytes: far below a pipe's buffer
    os.close(write)
    return read
