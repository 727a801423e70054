// The seccomp filter of container tasks, pure: the kernel surfaces Docker's
// default profile keeps from containers, as a deny-list (every other system
// call is allowed). Denied calls fail with EPERM (clone3 with ENOSYS, so
// the C library falls back to clone, where namespace flags are checked):
//   - new namespaces (unshare, setns, clone with a CLONE_NEW* flag): user
//     namespaces above all, the way to capabilities the container lacks;
//   - mounting, in both APIs, and pivot_root;
//   - the kernel keyring, modules, kexec, BPF, perf events, userfaultfd,
//     io_uring, the clock, swap, reboot, accounting, quotas, I/O ports,
//     file handles (open_by_handle_at: the "shocker" escape), and other
//     processes' memory (process_vm_*, kcmp).
// Applied where the runtime supports seccomp (runc built with libseccomp,
// as Debian's is).

const DENIED = [
  "unshare", "setns", "mount", "umount", "umount2", "pivot_root",
  "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
  "keyctl", "add_key", "request_key",
  "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
  "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
  "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime",
  "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "iopl", "ioperm",
  "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init",
  "process_vm_readv", "process_vm_writev", "kcmp", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl",
  "nfsservctl", "get_kernel_syms", "query_module", "syslog",
];

/** CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME. */
const CLONE_NS_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080];

export function seccompProfile(): Record<string, unknown> {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: DENIED, action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      // One rule per flag: a rule's conditions must all hold, and each says "this flag is set".
      ...CLONE_NS_FLAGS.map((flag) => ({
        names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: 1,
        args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }],
      })),
    ],
  };
}
