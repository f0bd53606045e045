#ifndef CTOOLFORMER_SHIMS_H
#define CTOOLFORMER_SHIMS_H
/* Mirror of Linux's struct ucred (SO_PEERCRED). Glibc only declares it under _GNU_SOURCE, and a
   shim that defines _GNU_SOURCE clashes with NIO's own C modules, so this header includes nothing. */
struct toolformer_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};

/* glibc 2.34+: close every descriptor from `from` up in the child of posix_spawn. Declared here
   because glibc hides it behind _GNU_SOURCE; the actions argument is a posix_spawn_file_actions_t. */
int posix_spawn_file_actions_addclosefrom_np(void *actions, int from);
/* libFuzzer's driver, for toolformer-fuzz built with -sanitize=fuzzer (.ci/fuzz). SwiftPM names an
   executable's entry point itself, so the target calls the driver instead of taking libFuzzer's main.
   Only referenced in that build. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const unsigned char *data, unsigned long size));

#endif
