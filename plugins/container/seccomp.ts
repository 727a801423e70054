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
// As Docker's profile, a capability the task was given (cap_add) opens the
// calls that need it: with CAP_SYS_TIME the clock can be set, with
// CAP_SYS_ADMIN namespaces and mounts are possible, and so on
// (ALLOWED_BY). Without it the kernel refuses them anyway; the filter is
// the second wall for the default set, not a veto on what the node allowed.

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

/** The denied calls a capability opens (Docker's default profile's "includes: caps" rules). */
const ALLOWED_BY: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "quotactl", "quotactl_fd", "name_to_handle_at", "lookup_dcookie", "fanotify_init", "bpf", "perf_event_open",
  ],
  CAP_SYS_MODULE: ["init_module", "finit_module", "delete_module"],
  CAP_SYS_BOOT: ["reboot", "kexec_load", "kexec_file_load"],
  CAP_SYS_TIME: ["settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: ["process_vm_readv", "process_vm_writev", "kcmp"],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYSLOG: ["syslog"],
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
};

/** CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME. */
const CLONE_NS_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080];

/** The filter for a container with `capabilities` (its bounding set; default: the default set, which opens nothing). */
export function seccompProfile(capabilities: readonly string[] = []): Record<string, unknown> {
  const opened = new Set(capabilities.flatMap((c) => ALLOWED_BY[c] ?? []));
  const sysAdmin = capabilities.includes("CAP_SYS_ADMIN");
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: DENIED.filter((n) => !opened.has(n)), action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      // clone3's flags are in memory, out of seccomp's sight: ENOSYS sends the C library to clone, whose flags it sees.
      ...(sysAdmin ? [] : [{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]),
      // One rule per flag: a rule's conditions must all hold, and each says "this flag is set".
      ...(sysAdmin ? [] : CLONE_NS_FLAGS.map((flag) => ({
        names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: 1,
        args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }],
      }))),
    ],
  };
}
